// hello (nodejs20.x): greets, says where it runs, and counts its warm invocations.
const crypto = require('crypto');

let calls = 0; // survives between invocations of one warm instance

exports.handler = async (event, context) => {
  calls += 1;
  const name = (event && event.name) || 'world';
  console.log(`hello: ${name} (call ${calls} in this instance)`);
  return {
    message: `Hello, ${name}!`,
    runtime: `node ${process.version}`,
    calls_in_this_instance: calls,
    random: crypto.randomBytes(8).toString('hex'),
    request_id: context.awsRequestId,
  };
};
