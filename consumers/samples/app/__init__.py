"""Small application modules that fail in realistic ways.

The scenarios in `consumers.samples.scenarios` drive these modules into real
exceptions, so the captured events carry real tracebacks, chained exceptions
and local variables. Nothing here touches the network or the file system.
"""
