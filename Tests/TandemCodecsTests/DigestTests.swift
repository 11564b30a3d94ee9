import Testing
@testable import TandemCodecs

@Suite struct DigestTests {
    @Test func sha256KnownAnswers() {
        #expect(hex(Hasher256.hash(.sha256, utf8("abc")))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Hasher256.hash(.sha256, [UInt8]()))
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // FIPS 180-2 two-block message.
        #expect(hex(Hasher256.hash(.sha256, utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func sm3KnownAnswers() {
        #expect(hex(Hasher256.hash(.sm3, utf8("abc")))
            == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        // GB/T 32905 example 2: "abcd" repeated 16 times.
        let abcd16 = Array(repeating: utf8("abcd"), count: 16).flatMap { $0 }
        #expect(hex(Hasher256.hash(.sm3, abcd16))
            == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    }

    @Test func incrementalMatchesKnownAnswerAndResets() {
        let h = Hasher256(.sha256)
        h.update(utf8("a"))
        h.update(utf8(""))
        h.update(utf8("bc"))
        #expect(hex(h.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // finalize() resets: an immediate second finalize is the empty digest.
        #expect(hex(h.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        h.update(utf8("garbage"))
        h.reset()
        h.update(utf8("abc"))
        #expect(hex(h.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(arguments: DigestAlgorithm.allCases)
    func streamingEqualsOneShotOverRandomSplits(_ algorithm: DigestAlgorithm) {
        var rng = SeededRNG(seed: 42)
        let hasher = Hasher256(algorithm)
        for _ in 0..<50 {
            let msg = rng.bytes(Int(rng.next() % 5000))
            let expected = Hasher256.hash(algorithm, msg)
            var i = 0
            while i < msg.count {
                let step = Int(rng.next() % 300)
                let end = min(msg.count, i + step)
                msg[i..<end].withUnsafeBytes { hasher.update($0) }
                i = end
            }
            #expect(hasher.finalize() == expected)
        }
    }

    @Test func algorithmsDiffer() {
        #expect(Hasher256.hash(.sha256, utf8("abc")) != Hasher256.hash(.sm3, utf8("abc")))
        #expect(Hasher256.hash(.sm3, utf8("abc")).count == 32)
    }
}
