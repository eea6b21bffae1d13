def handler(event, context):
    # 257 KiB, past Step Functions' 256 KiB payload limit.
    return b"a" * (257 * 1024)
