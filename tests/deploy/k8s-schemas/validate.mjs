// Reads a multi-document YAML stream (kubectl kustomize's output) on stdin and
// validates every object against the Kubernetes API's OpenAPI schema for its
// apiVersion and kind (kubernetes-models, offline). Prints one line per object
// ("ok Kind/name" or "invalid Kind/name: why") and exits 1 if any is invalid
// or of a kind it has no schema for.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";

const models = { v1: core, "apps/v1": apps, "rbac.authorization.k8s.io/v1": rbac };
let failed = false;
for (const doc of parseAllDocuments(readFileSync(0, "utf8"))) {
  const obj = doc.toJS();
  if (!obj) continue;
  const label = `${obj.kind}/${obj.metadata?.name}`;
  const Model = models[obj.apiVersion]?.[obj.kind];
  if (!Model) {
    console.log(`invalid ${label}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed = true;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok ${label}`);
  } catch (err) {
    console.log(`invalid ${label}: ${err.message.replace(/\s+/g, " ")}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
