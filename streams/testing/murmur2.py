"""The Java producer's default partitioner, for tests that predict where a key lands (the
implementation lives with the runtime, which uses it for owner metadata).

Example::

    murmur2_partition(b"user-1", 6)   # the partition a Java or streams producer writes to
"""

from streams.runtime.murmur2 import murmur2_partition

__all__ = ["murmur2_partition"]
