import Testing
@testable import TandemCodecs

@Suite struct KeyedHashTests {
    @Test func hmacSHA256RFC4231Case1() {
        let h = KeyedHash(.sha256, key: SecretKey(bytes: Array(repeating: 0x0b, count: 20)))
        #expect(hex(h.mac(utf8("Hi There")))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func hmacSHA256RFC4231Case2() {
        let h = KeyedHash(.sha256, key: SecretKey(bytes: utf8("Jefe")))
        #expect(hex(h.mac(utf8("what do ya want for nothing?")))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hmacSHA256RFC4231Case6LongKey() {
        // Key longer than the block size is hashed first.
        let h = KeyedHash(.sha256, key: SecretKey(bytes: Array(repeating: 0xaa, count: 131)))
        #expect(hex(h.mac(utf8("Test Using Larger Than Block-Size Key - Hash Key First")))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// Values computed on the build machine with
    /// `openssl mac -digest SM3 -macopt key:key HMAC` and `openssl dgst -sm3 -hmac key`.
    @Test func hmacSM3KnownAnswers() {
        let h = KeyedHash(.sm3, key: SecretKey(bytes: utf8("key")))
        #expect(hex(h.mac(utf8("The quick brown fox jumps over the lazy dog")))
            == "bd4a34077888162b210645b8ebf74b9af357303789357a27c7fc457244ebd398")
        #expect(hex(h.mac(utf8("abc")))
            == "28e63256e7c5a087b1f073265dc53092163f7b82729735d06f28f10af9d52393")
    }

    @Test func reuseAcrossManyCallsIsStable() {
        let h = KeyedHash(.sha256, key: SecretKey(bytes: utf8("Jefe")))
        let msg = utf8("what do ya want for nothing?")
        let first = h.mac(msg)
        for _ in 0..<1000 { #expect(h.mac(msg) == first) }
        #expect(h.mac(utf8("other")) != first)
    }

    @Test(arguments: DigestAlgorithm.allCases)
    func streamingEqualsOneShot(_ algorithm: DigestAlgorithm) {
        var rng = SeededRNG(seed: 9)
        let h = KeyedHash(algorithm, key: SecretKey.random(count: 32))
        for _ in 0..<40 {
            let msg = rng.bytes(Int(rng.next() % 3000))
            let expected = h.mac(msg)
            h.begin()
            var i = 0
            while i < msg.count {
                let end = min(msg.count, i + Int(rng.next() % 200))
                msg[i..<end].withUnsafeBytes { h.update($0) }
                i = end
            }
            #expect(h.finish() == expected)
        }
    }

    @Test func beginDiscardsPartialMessage() {
        let h = KeyedHash(.sha256, key: SecretKey(bytes: utf8("Jefe")))
        h.update(utf8("junk that must be forgotten"))
        h.begin()
        h.update(utf8("what do ya "))
        h.update(utf8("want for nothing?"))
        #expect(hex(h.finish()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // finish() leaves the object ready without begin().
        h.update(utf8("Hi"))
        let a = h.finish()
        #expect(a == h.mac(utf8("Hi")))
    }

    @Test func macIntoBufferMatches() {
        let h = KeyedHash(.sha256, key: SecretKey(bytes: Array(repeating: 0x0b, count: 20)))
        var out = [UInt8](repeating: 0, count: 32)
        utf8("Hi There").withUnsafeBytes { m in out.withUnsafeMutableBytes { h.mac(m, into: $0) } }
        #expect(hex(out) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(h.mac(utf8("Hi There")) == out)
    }

    @Test func verifyIsCorrect() {
        let h = KeyedHash(.sm3, key: SecretKey(bytes: utf8("key")))
        var tag = h.mac(utf8("abc"))
        let msg = utf8("abc")
        #expect(msg.withUnsafeBytes { m in tag.withUnsafeBytes { h.verify(m, tag: $0) } })
        tag[31] ^= 1
        #expect(!msg.withUnsafeBytes { m in tag.withUnsafeBytes { h.verify(m, tag: $0) } })
        #expect(!msg.withUnsafeBytes { m in tag.prefix(16).withUnsafeBytes { h.verify(m, tag: $0) } })
    }

    @Test func differentKeysGiveDifferentMACs() {
        let a = KeyedHash(.sha256, key: SecretKey(bytes: [1, 2, 3]))
        let b = KeyedHash(.sha256, key: SecretKey(bytes: [1, 2, 4]))
        #expect(a.mac(utf8("x")) != b.mac(utf8("x")))
    }
}
