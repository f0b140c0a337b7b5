"""faust's table with its source-partition check made safe while a topic's metadata loads.

Before a table's first write from a topic, faust compares the partition counts of that source
topic and of the table's changelog as the consumer's metadata knows them, and raises
``PartitionsMismatch`` if they differ. The consumer reports a topic it has no metadata for yet
as having 0 partitions (aiokafka's ``partitions_for_topic(...) or []``), and a changelog topic
faust has just created is such a topic: the write raised, inside a journal commit, and the
agent died with its message unacknowledged (its partition then stalled for good; seen in the
e2e tests with 12 partitions, where creating topics takes longer). Here an unknown count is no
verdict: the check is made again at the next write, once both counts are known. A worker also
refuses keyed topics partitioned otherwise than its tables before it starts
(``hub.connectors.kafka_admin.ensure_topics``).
"""

from __future__ import annotations

from typing import Any

import faust


class HubTable(faust.Table[Any, Any]):
    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        if source_topic in self._verified_source_topics_for_partitions:
            return
        consumer = self.app.consumer
        if not consumer.topic_partitions(source_topic) or not consumer.topic_partitions(
            self.changelog_topic_name
        ):
            return  # not known yet: checked at a later write
        super()._verify_source_topic_partitions(source_topic)
