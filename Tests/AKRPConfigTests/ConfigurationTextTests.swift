import AKRPConfig
import AKRPEngine
import Foundation
import Testing

@Suite struct ConfigurationTextTests {
    @Test func fullExampleParsesToTheExpectedValues() throws {
        let c = try ConfigurationText.parse(Fixtures.fullExample)
        #expect(c == Fixtures.fullExampleValue)
        #expect(c.engine.authenticationReserve == 16)
        #expect(c.engine.detourBudget == 0)
        #expect(c.name == "beta")
    }

    @Test func minimalFileTakesEveryDefault() throws {
        let c = try ConfigurationText.parse(Fixtures.base)
        #expect(c == Fixtures.fullExampleValue)
        var engine = EngineConfiguration()
        engine.authenticationReserve = 16
        #expect(c.engine == engine)
        #expect(c.keyStore == KeyStoreSettings())
        #expect(c.peers == PeerSettings())
        #expect(c.logLevel == "info" && c.highWaterStep == 16_384)
        // A simulated neighbour without `rate` takes the topology link's.
        guard case .simulated(_, _, let rate, _, _) = c.neighbours[0].source else {
            Issue.record("neighbour 1 is not simulated")
            return
        }
        #expect(rate == 1_000_000)
    }

    @Test func crlfLineEndingsAreAccepted() throws {
        let crlf = Fixtures.fullExample.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        #expect(Array(crlf.utf8).contains(0x0D))
        #expect(try ConfigurationText.parse(crlf) == Fixtures.fullExampleValue)
        // Line numbers stay right with CRLF.
        let bad = Fixtures.replacing(14, with: "address = 127.0.0.1").split(separator: "\n", omittingEmptySubsequences: false)
            .joined(separator: "\r\n")
        #expect(throws: ConfigurationFileError.invalidValue(
            line: 14, section: "neighbour 1", field: "address", reason: "must be host:port or [IPv6]:port, got '127.0.0.1'")) {
            try ConfigurationText.parse(bad)
        }
    }

    @Test func byteOrderMarkAndMissingFinalNewlineAreAccepted() throws {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(Fixtures.base.utf8)
        bytes.removeLast()
        #expect(try ConfigurationText.parse(bytes: bytes) == Fixtures.fullExampleValue)
    }

    @Test func quotedValuesMayHoldCommentCharacters() throws {
        let text = Fixtures.replacing(3, with: #"control-socket = "/run/a#b \"c\".sock"   # comment"#)
        #expect(try ConfigurationText.parse(text).controlSocket == #"/run/a#b "c".sock"#)
    }

    @Test(arguments: [Fixtures.fullExampleValue, Fixtures.unusual])
    func textRoundTrips(_ c: NodeConfiguration) throws {
        try c.validate()
        let text = ConfigurationText.render(c)
        let back = try ConfigurationText.parse(text)
        #expect(back == c)
        #expect(ConfigurationText.render(back) == text)
    }

    @Test func renderedTextOfTheExampleReadsBackFromItsOwnText() throws {
        let once = ConfigurationText.render(try ConfigurationText.parse(Fixtures.fullExample))
        #expect(once.contains("[neighbour 3]"))
        #expect(once.contains("link 2 3 rate=2000000 delay-ms=0.5"))
        #expect(once.contains("epoch = 1764547200\n"))
        #expect(ConfigurationText.render(try ConfigurationText.parse(once)) == once)
    }

    @Test func decimalForms() throws {
        let text = Fixtures.replacing(
            17, with: "epoch = 1764547200.25\nrate = 1_000_000\nblock-ms = 12.5\njitter = 0.05")
        let c = try ConfigurationText.parse(text)
        #expect(c.neighbours[0].source == .simulated(
            seed: 42, epoch: 1_764_547_200_250_000_000, bitsPerSecond: 1_000_000, blockPeriod: 12_500_000, jitter: 0.05))
        let engine = try ConfigurationText.parse(Fixtures.inserting(
            "[engine]\ndetour-budget-ms = off\neta-deviations = 1.5\nlatency-budget-ms = 0.000001", after: 5))
        #expect(engine.engine.detourBudget == nil)
        #expect(engine.engine.etaDeviations == 1.5)
        #expect(engine.engine.latencyBudget == 1)
    }
}

/// One malformed file and the exact error it must give.
struct MalformedCase: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var error: ConfigurationFileError
    var testDescription: String { name }
}

@Suite struct MalformedConfigurationTests {
    static let cases: [MalformedCase] = [
        MalformedCase(name: "empty file", text: "", error: .emptyFile),
        MalformedCase(name: "only comments and blanks", text: "# nothing\n\n   \r\n\t# more\n", error: .emptyFile),
        MalformedCase(
            name: "one-line file missing the rest", text: "node = 2",
            error: .missingField(line: nil, section: nil, field: "listen")),
        MalformedCase(
            name: "one-line file with a bad value", text: "node = x\n",
            error: .invalidValue(line: 1, section: nil, field: "node", reason: "must be a positive integer, got 'x'")),
        MalformedCase(
            name: "one-line file with a misspelt field", text: "nod = 2",
            error: .unknownField(line: 1, section: nil, field: "nod", suggestion: "node")),
        MalformedCase(
            name: "one-line syntax error", text: "node 2\r\n",
            error: .syntax(line: 1, section: nil, reason: "expected 'field = value', got 'node' without '='")),
        MalformedCase(
            name: "duplicate field", text: Fixtures.inserting("node = 3", after: 1),
            error: .duplicateField(line: 2, section: nil, field: "node", firstLine: 1)),
        MalformedCase(
            name: "duplicate field in a neighbour section", text: Fixtures.inserting("seed = 43", after: 16),
            error: .duplicateField(line: 17, section: "neighbour 1", field: "seed", firstLine: 16)),
        MalformedCase(
            name: "duplicate link attribute", text: Fixtures.replacing(10, with: "link alpha beta rate=1 rate=2"),
            error: .duplicateField(line: 10, section: "topology", field: "rate", firstLine: 10)),
        MalformedCase(
            name: "unknown field close to a known one", text: Fixtures.replacing(2, with: "lisen = 0.0.0.0:7402"),
            error: .unknownField(line: 2, section: nil, field: "lisen", suggestion: "listen")),
        MalformedCase(
            name: "unknown field", text: Fixtures.inserting("colour = blue", after: 4),
            error: .unknownField(line: 5, section: nil, field: "colour", suggestion: nil)),
        MalformedCase(
            name: "unknown field in a section", text: Fixtures.inserting("adress = 127.0.0.1:7401", after: 13),
            error: .unknownField(line: 14, section: "neighbour 1", field: "adress", suggestion: "address")),
        MalformedCase(
            name: "field of another section", text: Fixtures.inserting("unit-size = 32", after: 4),
            error: .misplacedField(line: 5, section: nil, field: "unit-size", belongsIn: "engine")),
        MalformedCase(
            name: "unknown link attribute", text: Fixtures.replacing(10, with: "link alpha beta rate=1 dealy-ms=2"),
            error: .unknownField(line: 10, section: "topology", field: "dealy-ms", suggestion: "delay-ms")),
        MalformedCase(
            name: "unknown section close to a known one", text: Fixtures.replacing(13, with: "[neighbor 1]"),
            error: .unknownSection(line: 13, section: "neighbor 1", suggestion: "neighbour 1")),
        MalformedCase(
            name: "unknown section", text: Fixtures.replacing(5, with: "[widgets]"),
            error: .unknownSection(line: 5, section: "widgets", suggestion: nil)),
        MalformedCase(
            name: "duplicate section", text: Fixtures.replacing(5, with: "[engine]\n[keys]\n[engine]"),
            error: .duplicateSection(line: 7, section: "engine", firstLine: 5)),
        MalformedCase(
            name: "the same neighbour by ID and by name", text: Fixtures.replacing(19, with: "[neighbour 3]\n\n[neighbour gamma]"),
            error: .duplicateSection(line: 21, section: "neighbour gamma", firstLine: 19)),
        MalformedCase(
            name: "missing topology", text: Fixtures.removing(6...11),
            error: .missingSection(section: "topology")),
        MalformedCase(
            name: "missing neighbour section", text: Fixtures.removing(18...22),
            error: .missingNeighbour(line: 11, node: 3, name: "gamma")),
        MalformedCase(
            name: "neighbour section for an unknown node", text: Fixtures.replacing(19, with: "[neighbour omega]"),
            error: .extraNeighbour(line: 19, section: "neighbour omega", reason: "no node 'omega' in the [topology]")),
        MalformedCase(
            name: "neighbour section for this node", text: Fixtures.replacing(13, with: "[neighbour beta]"),
            error: .extraNeighbour(line: 13, section: "neighbour beta", reason: "node 2 is this node")),
        MalformedCase(
            name: "address without port", text: Fixtures.replacing(14, with: "address = 127.0.0.1"),
            error: .invalidValue(
                line: 14, section: "neighbour 1", field: "address", reason: "must be host:port or [IPv6]:port, got '127.0.0.1'")),
        MalformedCase(
            name: "address with port 0", text: Fixtures.replacing(14, with: "address = 127.0.0.1:0"),
            error: .invalidValue(line: 14, section: "neighbour 1", field: "address", reason: "port must be 1…65535, got '0'")),
        MalformedCase(
            name: "address with a port too large", text: Fixtures.replacing(2, with: "listen = 0.0.0.0:65536"),
            error: .invalidValue(line: 2, section: nil, field: "listen", reason: "port must be 1…65535, got '65536'")),
        MalformedCase(
            name: "IPv6 address without brackets", text: Fixtures.replacing(2, with: "listen = ::1:7402"),
            error: .invalidValue(
                line: 2, section: nil, field: "listen",
                reason: "an IPv6 address must be written in brackets, e.g. [::1]:7401, got '::1:7402'")),
        MalformedCase(
            name: "address with a bad host", text: Fixtures.replacing(14, with: "address = bad!host:7401"),
            error: .invalidValue(
                line: 14, section: "neighbour 1", field: "address",
                reason: "host must be a host name or an IP address (letters, digits, '.', '-', '_'), got 'bad!host'")),
        MalformedCase(
            name: "two neighbours at one address", text: Fixtures.replacing(20, with: "address = 127.0.0.1:7401"),
            error: .invalidValue(
                line: 20, section: "neighbour gamma", field: "address", reason: "127.0.0.1:7401 is also the address of [neighbour 1]")),
        MalformedCase(
            name: "bad number (the documented example)", text: Fixtures.inserting("rate = fast", after: 17),
            error: .invalidValue(
                line: 18, section: "neighbour 1", field: "rate", reason: "must be a positive integer (bits per second), got 'fast'")),
        MalformedCase(
            name: "bad link rate", text: Fixtures.replacing(10, with: "link alpha beta rate=fast"),
            error: .invalidValue(
                line: 10, section: "topology", field: "rate", reason: "must be a positive integer (bits per second), got 'fast'")),
        MalformedCase(
            name: "missing link rate", text: Fixtures.replacing(10, with: "link alpha beta delay-ms=2"),
            error: .missingField(line: 10, section: "topology", field: "rate")),
        MalformedCase(
            name: "rate zero", text: Fixtures.replacing(10, with: "link alpha beta rate=0"),
            error: .invalidValue(
                line: 10, section: "topology", field: "rate", reason: "must be 1…1000000000000 bits per second, got '0'")),
        MalformedCase(
            name: "UInt64 overflow", text: Fixtures.replacing(16, with: "seed = 18446744073709551616"),
            error: .invalidValue(
                line: 16, section: "neighbour 1", field: "seed", reason: "must be 0…18446744073709551615, got '18446744073709551616'")),
        MalformedCase(
            name: "node ID over 32 bits", text: Fixtures.replacing(1, with: "node = 4294967296"),
            error: .invalidValue(line: 1, section: nil, field: "node", reason: "must be 1…4294967295, got '4294967296'")),
        MalformedCase(
            name: "milliseconds that overflow nanoseconds", text: Fixtures.inserting("[engine]\nlease-ms = 18446744073709551615", after: 5),
            error: .invalidValue(
                line: 7, section: "engine", field: "lease-ms",
                reason: "must be more than 0 and at most 86400000 ms, got '18446744073709551615'")),
        MalformedCase(
            name: "epoch that overflows nanoseconds", text: Fixtures.replacing(17, with: "epoch = 99999999999"),
            error: .invalidValue(
                line: 17, section: "neighbour 1", field: "epoch",
                reason: "must be at most 18446744073.709551615 (Unix time, seconds), got '99999999999'")),
        MalformedCase(
            name: "more decimals than nanoseconds", text: Fixtures.replacing(11, with: "link 2 3 rate=2000000 delay-ms=0.0000001"),
            error: .invalidValue(
                line: 11, section: "topology", field: "delay-ms", reason: "at most 6 decimal places (a nanosecond), got '0.0000001'")),
        MalformedCase(
            name: "negative number", text: Fixtures.inserting("[keys]\ncapacity = -1", after: 5),
            error: .invalidValue(line: 7, section: "keys", field: "capacity", reason: "must be a positive integer (keys), got '-1'")),
        MalformedCase(
            name: "unit size below one authentication key", text: Fixtures.inserting("[engine]\nunit-size = 16", after: 5),
            error: .invalidValue(line: 7, section: "engine", field: "unit-size", reason: "must be 32…4096 bytes, got '16'")),
        MalformedCase(
            name: "boolean", text: Fixtures.inserting("[engine]\nyield = maybe", after: 5),
            error: .invalidValue(line: 7, section: "engine", field: "yield", reason: "must be yes or no, got 'maybe'")),
        MalformedCase(
            name: "real out of range", text: Fixtures.inserting("jitter = 0.95", after: 17),
            error: .invalidValue(line: 18, section: "neighbour 1", field: "jitter", reason: "must be 0…0.9, got '0.95'")),
        MalformedCase(
            name: "not a real", text: Fixtures.inserting("[engine]\neta-deviations = nan", after: 5),
            error: .invalidValue(line: 7, section: "engine", field: "eta-deviations", reason: "must be a decimal number 0…10, got 'nan'")),
        MalformedCase(
            name: "cross-field rule at the field's line",
            text: Fixtures.inserting("[engine]\npool-capacity = 100\nauthentication-reserve = 100", after: 5),
            error: .invalidValue(
                line: 8, section: "engine", field: "authentication-reserve",
                reason: "must be 0…99 units (less than pool-capacity), got 100")),
        MalformedCase(
            name: "cross-field rule against a default: the section's line",
            text: Fixtures.inserting("[engine]\npool-capacity = 10", after: 5),
            error: .invalidValue(
                line: 6, section: "engine", field: "max-request-units", reason: "must be at most pool-capacity (10), got 64")),
        MalformedCase(
            name: "node not in the topology", text: Fixtures.replacing(1, with: "node = 5"),
            error: .invalidValue(line: 1, section: nil, field: "node", reason: "node 5 is not listed in the [topology]")),
        MalformedCase(
            name: "disconnected topology", text: Fixtures.inserting("node 4 delta", after: 9),
            error: .invalidValue(
                line: 6, section: "topology", field: nil, reason: "is not connected: node 4 'delta' cannot be reached from node 2")),
        MalformedCase(
            name: "duplicate link", text: Fixtures.inserting("link beta alpha rate=5", after: 11),
            error: .invalidValue(line: 12, section: "topology", field: "link", reason: "is listed twice (also link #1)")),
        MalformedCase(
            name: "link to an unknown node", text: Fixtures.replacing(11, with: "link 2 gama rate=5"),
            error: .invalidValue(
                line: 11, section: "topology", field: "link", reason: "no node 'gama' in the [topology] (did you mean 'gamma'?)")),
        MalformedCase(
            name: "duplicate node name", text: Fixtures.replacing(9, with: "node 3 alpha"),
            error: .invalidValue(line: 9, section: "topology", field: "node", reason: "name 'alpha' is used twice (first on line 7)")),
        MalformedCase(
            name: "node name of digits", text: Fixtures.replacing(9, with: "node 3 33"),
            error: .invalidValue(
                line: 9, section: "topology", field: "node",
                reason: "name must not be only digits (it would read as a node ID), got '33'")),
        MalformedCase(
            name: "unknown topology line", text: Fixtures.replacing(9, with: "nod 3 gamma"),
            error: .syntax(line: 9, section: "topology", reason: "expected a 'node' or 'link' line, got 'nod' (did you mean 'node'?)")),
        MalformedCase(
            name: "a setting inside [topology]", text: Fixtures.inserting("log-level = debug", after: 6),
            error: .misplacedField(line: 7, section: "topology", field: "log-level", belongsIn: "")),
        MalformedCase(
            name: "blanks around '=' in a link", text: Fixtures.replacing(10, with: "link alpha beta rate = 5"),
            error: .syntax(
                line: 10, section: "topology",
                reason: "expected 'name=value' (no blanks around '=') after the link's ends, got 'rate'")),
        MalformedCase(
            name: "field of another source", text: Fixtures.inserting("seed = 1", after: 22),
            error: .invalidValue(
                line: 23, section: "neighbour gamma", field: "seed", reason: "applies only to source = simulated, not to source = usb")),
        MalformedCase(
            name: "missing field of the source", text: Fixtures.removing(22...22),
            error: .missingField(line: 19, section: "neighbour gamma", field: "serial")),
        MalformedCase(
            name: "unknown source", text: Fixtures.replacing(21, with: "source = quantum"),
            error: .invalidValue(
                line: 21, section: "neighbour gamma", field: "source", reason: "must be simulated, usb, trace, got 'quantum'")),
        MalformedCase(
            name: "unknown log level", text: Fixtures.inserting("log-level = loud", after: 4),
            error: .invalidValue(
                line: 5, section: nil, field: "log-level",
                reason: "must be one of trace|debug|info|notice|warning|error|critical, got 'loud'")),
        MalformedCase(
            name: "empty path", text: Fixtures.replacing(4, with: #"state-dir = """#),
            error: .invalidValue(line: 4, section: nil, field: "state-dir", reason: "must not be empty")),
        MalformedCase(
            name: "unterminated quote", text: Fixtures.replacing(3, with: #"control-socket = "/run/x"#),
            error: .invalidValue(
                line: 3, section: nil, field: "control-socket", reason: "unterminated quoted string (no closing '\"')")),
        MalformedCase(
            name: "missing value", text: Fixtures.replacing(3, with: "control-socket =   # nothing"),
            error: .invalidValue(line: 3, section: nil, field: "control-socket", reason: "missing value after '='")),
        MalformedCase(
            name: "control character", text: Fixtures.replacing(3, with: "control-socket = /run/\u{1}x"),
            error: .syntax(line: 3, section: nil, reason: "control character 0x01 in the line")),
        MalformedCase(
            name: "section header with an argument", text: Fixtures.replacing(5, with: "[engine 2]"),
            error: .syntax(line: 5, section: nil, reason: "section [engine] takes no argument, got [engine 2]")),
        MalformedCase(
            name: "too many neighbours for max-neighbours", text: Fixtures.inserting("[engine]\nmax-neighbours = 1", after: 5),
            error: .invalidValue(
                line: 7, section: "engine", field: "max-neighbours", reason: "node 2 has 2 links in the topology, more than 1")),
        MalformedCase(
            name: "reconnect maximum below minimum", text: Fixtures.inserting("[peers]\nreconnect-min-ms = 500\nreconnect-max-ms = 100", after: 5),
            error: .invalidValue(
                line: 8, section: "peers", field: "reconnect-max-ms", reason: "must be at least reconnect-min-ms (500), got 100")),
    ]

    @Test(arguments: cases)
    func malformedFileGivesTheExactError(_ c: MalformedCase) {
        #expect(throws: c.error) { try ConfigurationText.parse(c.text) }
    }

    @Test func extraNeighbourIsNamed() {
        let text = Fixtures.inserting("node 4 delta", after: 9)
            .replacing("link 2 3 rate=2000000 delay-ms=0.5", with: "link 2 3 rate=2000000 delay-ms=0.5\nlink gamma delta rate=1000")
            + "\n[neighbour delta]\naddress = 127.0.0.1:7404\nsource = trace\npath = /tmp/trace\n"
        #expect(throws: ConfigurationFileError.extraNeighbour(
            line: 26, section: "neighbour delta", reason: "node 4 'delta' is not linked to this node (2 'beta') in the topology")) {
            try ConfigurationText.parse(text)
        }
    }

    @Test func invalidUTF8IsRefusedAtItsLine() throws {
        var bytes = Array(Fixtures.base.utf8)
        let secondLine = try #require(bytes.firstIndex(of: 0x0A)) + 1
        bytes.insert(0xFF, at: secondLine + 3)
        #expect(throws: ConfigurationFileError.syntax(line: 2, section: nil, reason: "not valid UTF-8 text")) {
            try ConfigurationText.parse(bytes: bytes)
        }
    }

    @Test func descriptionsNameLineSectionAndField() {
        let e = ConfigurationFileError.invalidValue(
            line: 14, section: "neighbour 2", field: "rate", reason: "must be a positive integer (bits per second), got 'fast'")
        #expect(e.description == "line 14: [neighbour 2] field 'rate': must be a positive integer (bits per second), got 'fast'")
        #expect(ConfigurationFileError.emptyFile.description.hasPrefix("empty file"))
        #expect(!ConfigurationFileError.emptyFile.description.contains("line 0"))
        #expect(ConfigurationFileError.unknownField(line: 1, section: nil, field: "nod", suggestion: "node").description
            == "line 1: unknown field 'nod' (did you mean 'node'?)")
        #expect(ConfigurationFileError.missingNeighbour(line: 11, node: 3, name: "gamma").description
            == "line 11: [topology]: node 3 'gamma' is linked to this node but has no [neighbour 3] section")
        #expect(ConfigurationFileError.inFile(path: "/etc/akrpd.conf", .emptyFile).description.hasPrefix("/etc/akrpd.conf: empty file"))
    }

    /// No error message may name a Swift property instead of the field as written.
    @Test(arguments: cases)
    func messagesUseTheFormatsNames(_ c: MalformedCase) {
        let text = c.error.description
        for swiftName in ["unitSize", "poolCapacity", "bitsPerSecond", "authenticationReserve", "maxRequestUnits", "line 0"] {
            #expect(!text.contains(swiftName), "\(text)")
        }
    }
}

/// The full example in docs/CONFIG.md is the configuration the tests expect.
@Suite struct DocumentedExampleTests {
    @Test func docsExampleParses() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/CONFIG.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.range(of: "### A full example"))
        let rest = text[section.upperBound...]
        let open = try #require(rest.range(of: "```\n"))
        let close = try #require(rest[open.upperBound...].range(of: "```"))
        let example = String(rest[open.upperBound..<close.lowerBound])
        #expect(try ConfigurationText.parse(example) == Fixtures.fullExampleValue)
    }
}
