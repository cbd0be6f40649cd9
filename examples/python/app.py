"""hello (python3.12): greets, says where it runs, and counts its warm invocations."""
import os
import platform

calls = 0  # survives between invocations of one warm instance


def handler(event, context):
    global calls
    calls += 1
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"hello: {name} (call {calls} in this instance)")
    return {
        "message": f"Hello, {name}!",
        "runtime": f"python {platform.python_version()}",
        "calls_in_this_instance": calls,
        "random": os.urandom(8).hex(),
        "request_id": context.aws_request_id,
    }
