// A Lambda user's session with the AWS SDK for JavaScript v3, unchanged but for
// the endpoint and dummy credentials: create, get, list, invoke (with the log
// tail), update, a missing function, delete. Prints one JSON object with what
// each call returned, for tests/integration/test_js_sdk.py to check.
//
// Usage: node lambda_client.mjs ENDPOINT NAME ZIPFILE RUNTIME HANDLER
import { readFileSync } from "node:fs";
import {
  LambdaClient, CreateFunctionCommand, GetFunctionCommand, ListFunctionsCommand,
  InvokeCommand, UpdateFunctionConfigurationCommand, DeleteFunctionCommand,
} from "@aws-sdk/client-lambda";

const [endpoint, name, zipFile, runtime, handler] = process.argv.slice(2);
const lambda = new LambdaClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
});
const out = {};
const send = (cmd) => lambda.send(cmd);
const bodyText = (bytes) => Buffer.from(bytes ?? []).toString();

out.create = await send(new CreateFunctionCommand({
  FunctionName: name, Runtime: runtime, Handler: handler, MemorySize: 128, Timeout: 30,
  Role: "arn:aws:iam::123456789012:role/ember", Code: { ZipFile: readFileSync(zipFile) },
  Environment: { Variables: { GREETING: "hello from js" } },
}));
out.get = await send(new GetFunctionCommand({ FunctionName: name }));
out.list = await send(new ListFunctionsCommand({}));
const inv = await send(new InvokeCommand({
  FunctionName: name, LogType: "Tail", Payload: Buffer.from(JSON.stringify({ from: "js" })),
}));
out.invoke = { StatusCode: inv.StatusCode, FunctionError: inv.FunctionError ?? null,
  ExecutedVersion: inv.ExecutedVersion, Payload: bodyText(inv.Payload),
  Log: Buffer.from(inv.LogResult ?? "", "base64").toString(),
  RequestId: inv.$metadata.requestId };
out.update = await send(new UpdateFunctionConfigurationCommand({
  FunctionName: name, MemorySize: 256, Description: "updated from js" }));
try {
  await send(new GetFunctionCommand({ FunctionName: name + "-missing" }));
  out.missing = { error: null };
} catch (e) {
  out.missing = { error: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
}
out.delete = await send(new DeleteFunctionCommand({ FunctionName: name }));
for (const v of Object.values(out)) delete v.$metadata;
console.log(JSON.stringify(out));
