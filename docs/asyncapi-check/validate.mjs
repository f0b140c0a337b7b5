// Validates an AsyncAPI 3.0 document, given as JSON on stdin, against the JSON schema that
// @asyncapi/specs ships (the one AsyncAPI's own parser uses). Prints one line per violation.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);
const schema = require("@asyncapi/specs/schemas/3.0.0.json");

const doc = JSON.parse(readFileSync(0, "utf8"));
// meta: false: the schema bundles draft-07 itself under the same $id as Ajv's copy.
const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false, meta: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (validate(doc)) {
  console.log(`valid AsyncAPI ${doc.asyncapi}`);
} else {
  for (const error of validate.errors) {
    console.log(`${error.instancePath || "/"}: ${error.message} ${JSON.stringify(error.params)}`);
  }
  process.exit(1);
}
