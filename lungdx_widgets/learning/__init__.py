"""The learning loop: snapshots of reviewed labels → fine-tuning → evaluation → registry → review queue.

Core layer: no widget imports. Modules: ``snapshots`` (frozen training sets), ``labelsets``
(which annotations count as ground truth), ``jobs`` (resumable fine-tuning), ``registry``
(candidate / active / retired, rollback), ``compare`` (paired comparison of two versions),
``active`` (review-queue ordering).
"""
