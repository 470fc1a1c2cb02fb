"""`python -m report_worker`: the report worker process (`report_worker.worker.serve`)."""

from report_worker.worker import main

main()
