extension String {
    /// Two lower-case hexadecimal digits of `byte` (`0x1b` is "1b"): for escapes in JSON and in
    /// names shown to people.
    package init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
