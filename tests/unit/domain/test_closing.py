"""A close's invoice pages: whole customers, at least a page of lines, nothing lost or repeated."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.closing import whole_customer_page


def test_a_page_ends_at_the_first_customer_boundary_after_the_page_size() -> None:
    lines = [("a", 1), ("a", 2), ("b", 3), ("b", 4), ("b", 5), ("c", 6)]
    assert whole_customer_page(lines, 3) == ([1, 2, 3, 4, 5], "b")
    assert whole_customer_page(lines, 2) == ([1, 2], "a")
    assert whole_customer_page(lines, 10) == ([1, 2, 3, 4, 5, 6], None)
    assert whole_customer_page([], 3) == ([], None)


@given(
    st.lists(st.integers(min_value=1, max_value=7), min_size=0, max_size=30),
    st.integers(min_value=1, max_value=12),
)
def test_pages_cover_every_line_once_and_never_split_a_customer(
    sizes: list[int], page: int
) -> None:
    lines = [(f"c{c:03d}", (c, i)) for c, n in enumerate(sizes) for i in range(n)]
    pages: list[list[tuple[int, int]]] = []
    rest = lines
    while True:
        taken, more = whole_customer_page(rest, page)
        pages.append(taken)
        if more is None:
            break
        rest = [(c, item) for c, item in rest if c > more]
    assert [item for p in pages for item in p] == [item for _, item in lines]
    customers = [{c for c, _ in p} for p in pages]
    for a in range(len(customers)):
        for b in range(a + 1, len(customers)):
            assert not customers[a] & customers[b]
    assert all(len(p) >= page for p in pages[:-1])
