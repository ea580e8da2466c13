#!/usr/bin/env python3
"""The x-amz-checksum-* value of a file for scripts/bench: base64 of the big-endian CRC,
computed with awscrt (the AWS Common Runtime, as awscli v2 and botocore use it).

  checksum.py crc64nvme|crc32c FILE
      # prints "VALUE MB/s" (the CRC's speed here, for the report)
"""
import base64
import sys
import time

from awscrt import checksums

ALGORITHMS = {"crc64nvme": (checksums.crc64nvme, 8), "crc32c": (checksums.crc32c, 4)}


def main(argv):
    if len(argv) != 2 or argv[0] not in ALGORITHMS:
        sys.exit(__doc__)
    crc, width = ALGORITHMS[argv[0]]
    value, size = 0, 0
    started = time.perf_counter()
    with open(argv[1], "rb", buffering=0) as f:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            value = crc(view[:n], value)
            size += n
    speed = size / (time.perf_counter() - started) / 1e6
    print(base64.b64encode(value.to_bytes(width, "big")).decode(), "%.1f" % speed)


if __name__ == "__main__":
    main(sys.argv[1:])
