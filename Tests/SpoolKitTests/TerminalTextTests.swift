import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Control characters made visible for a terminal")
struct TerminalTextTests {
    @Test("C0 but newline and tab, DEL and C1 become \\u00XX; bytes that are not UTF-8 become \\xXX")
    func rules() {
        #expect(
            TerminalText.visible("plain\ttext\nwith é, ©, ü, 日本, 🙂 and a \\ backslash")
                == "plain\ttext\nwith é, ©, ü, 日本, 🙂 and a \\ backslash")
        #expect(TerminalText.visible("\u{1B}[2J\u{07}\r\u{00}\u{7F}") == #"\u001b[2J\u0007\u000d\u0000\u007f"#)
        #expect(TerminalText.visible("a\u{9B}6n\u{80}\u{9F}\u{A0}b") == #"a\u009b6n\u0080\u009f"# + "\u{A0}b")
        var escaper = TerminalText()
        let bytes: [UInt8] = [0x61, 0xFF, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xE2, 0x82, 0x62]
        #expect(
            String(decoding: escaper.visible(bytes) + escaper.finish(), as: UTF8.self)
                == #"a\xff\xc0\xaf\xed\xa0\x80\xe2\x82b"#)
    }

    @Test("a stream cut anywhere gives what the whole gives; an unfinished character ends as bytes")
    func streaming() {
        let input = Array("x é\u{1B}]0;t\u{07} \u{9B} 日本 🙂".utf8) + [0xFF] + Array(" ok".utf8)
        var whole = TerminalText()
        let expected = whole.visible(input) + whole.finish()
        for cut in 0...input.count {
            var escaper = TerminalText()
            let output = escaper.visible(input[..<cut]) + escaper.visible(input[cut...]) + escaper.finish()
            #expect(output == expected, "cut at \(cut)")
        }
        var escaper = TerminalText()
        #expect(escaper.visible([0x61, 0xF0, 0x9F]) == [0x61])
        #expect(String(decoding: escaper.finish(), as: UTF8.self) == #"\xf0\x9f"#)
    }
}
