"""Runs python/worker.py with DISCONNECT_GRACE shortened to 0.1 s (for a test of the cancel after
the grace that does not wait 5 s). Arguments as for worker.py."""
import importlib.util
import os
import sys

path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "worker.py")
spec = importlib.util.spec_from_file_location("_warpipe_worker", path)
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
worker.DISCONNECT_GRACE = 0.1
worker.main(sys.argv[1:])
