"""Background loops, apart from the domain: the outbox relay, the import runner, their polling and the
`registry-api worker` process. The domain packages never import this one; the API's lifespan and the worker start it.
"""
