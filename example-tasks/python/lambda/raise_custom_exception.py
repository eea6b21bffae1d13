class CustomException(Exception):
    """An exception of the function's own; its class name is the error Step Functions sees."""


def handler(event, context):
    raise CustomException()
