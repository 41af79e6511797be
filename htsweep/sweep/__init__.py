"""A sweep's runs as a whole: the jobs a sweep consists of (:mod:`.expand`), finding and
inspecting its run folders (:mod:`.discover`), reading their records (:mod:`.read`), the
summary / aggregate / problems tables (:mod:`.tables`) and :func:`aggregate` itself."""
