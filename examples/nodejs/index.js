// hello (nodejs20.x): greets, says where it runs, and counts its warm invocations.
const fs = require('fs');

let calls = 0; // survives between invocations of one warm instance

function urandom(n) {
  const fd = fs.openSync('/dev/urandom', 'r');
  const buf = Buffer.alloc(n);
  fs.readSync(fd, buf, 0, n, null);
  fs.closeSync(fd);
  return buf.toString('hex');
}

exports.handler = async (event, context) => {
  calls += 1;
  const name = (event && event.name) || 'world';
  console.log(`hello: ${name} (call ${calls} in this instance)`);
  return {
    message: `Hello, ${name}!`,
    runtime: `node ${process.version}`,
    calls_in_this_instance: calls,
    // From the kernel, not crypto.randomBytes: OpenSSL's generator was seeded
    // before the snapshot, so every clone of it would draw the same bytes
    // (vmm/snapshot/README.md, "Clones and secrets").
    random: urandom(8),
    request_id: context.awsRequestId,
  };
};
