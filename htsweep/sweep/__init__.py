"""A sweep's runs as a whole: the jobs a sweep consists of (:mod:`.expand`), finding and
inspecting its run folders (:mod:`.discover`), reading their records (:mod:`.read`), the
summary / aggregate / problems tables (:mod:`.tables`), :func:`.aggregate.aggregate` itself
and its command line and Hydra callback (:mod:`.cli`).

Nothing is imported here, so ``htsweep.sweep.expand`` stays cheap to import (no pandas, no
matplotlib) for code that only expands a sweep's jobs.
"""
