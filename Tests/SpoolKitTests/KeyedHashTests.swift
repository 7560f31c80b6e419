import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Keyed hash")
struct KeyedHashTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("SHA-256 matches FIPS 180-4 examples, including a message spanning two blocks")
    func sha256() {
        #expect(
            Self.hex(SHA256.digest(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.digest([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let twoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(
            Self.hex(SHA256.digest(Array(twoBlocks.utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("HMAC-SHA256 matches RFC 4231 test cases 2 and 6 (a key longer than a block)")
    func hmac() {
        let jefe = KeyedHash(key: Array("Jefe".utf8))
        #expect(
            Self.hex(jefe.authenticationCode(Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let long = KeyedHash(key: [UInt8](repeating: 0xaa, count: 131))
        #expect(
            Self.hex(long.authenticationCode(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("the hash rule is stable for one key, differs between keys and between values")
    func stability() {
        let one = KeyedHash(key: Array("first key, 16+ bytes".utf8))
        let again = KeyedHash(key: Array("first key, 16+ bytes".utf8))
        let other = KeyedHash(key: Array("second key, 16+ bytes".utf8))
        #expect(one.hex("alice@example.com", length: 16) == again.hex("alice@example.com", length: 16))
        #expect(one.hex("alice@example.com", length: 16).count == 16)
        #expect(one.hex("alice@example.com") != other.hex("alice@example.com"))
        #expect(one.hex("alice@example.com") != one.hex("bob@example.com"))
    }
}
