def handler(event, context):
    # Bytes are the response as is: here the JSON string "HelloWorld!".
    return b'"HelloWorld!"'
