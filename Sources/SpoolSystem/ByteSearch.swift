import Glibc

/// Byte search in memory with the C library's memchr: the hot loop of reading NDJSON, which a
/// per-byte Swift loop makes several times slower in debug builds.
package enum ByteSearch {
    /// The index of the first `byte` in `bytes[start..<end]`, or nil.
    package static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int)
        -> Int?
    {
        guard start < end, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), end - start) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}
