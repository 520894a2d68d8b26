import AKRPTestSupport
import Foundation
import Testing

/// The commands the documentation and `akrpctl --help` name exist: every `akrpctl WORD [WORD]` in a code
/// span or code block of README.md, docs/ and Hardware/ answers `--help` with status 0, and so does every
/// subcommand the overview lists.
@Suite(.enabled(if: akrpctl.available, "akrpctl is not built beside the tests"))
struct AKRPCtlOverviewTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `akrpctl` invocations in code: inline code spans and fenced blocks.
    static func documentedCommands() -> [[String]] {
        var files = ["README.md"]
        for folder in ["docs", "Hardware", "Hardware/gadget"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)) ?? []
            files += names.filter { $0.hasSuffix(".md") }.map { "\(folder)/\($0)" }
        }
        var found: Set<[String]> = []
        for file in files {
            guard let text = try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) else { continue }
            var code: [Substring] = []
            var inBlock = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```") {
                    inBlock.toggle()
                    continue
                }
                if inBlock {
                    code.append(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])  // not the comments
                } else {
                    code += line.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
                }
            }
            for snippet in code {
                let words = snippet.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == ")" }).map(String.init)
                for (i, w) in words.enumerated() where w == "akrpctl" || w.hasSuffix("/akrpctl") {
                    let rest = words.dropFirst(i + 1).prefix { !$0.hasPrefix("-") && $0.allSatisfy { $0.isLowercase || $0 == "-" } }
                    if !rest.isEmpty { found.insert(Array(rest.prefix(2))) }
                }
            }
        }
        return found.sorted { $0.joined(separator: " ") < $1.joined(separator: " ") }
    }

    @Test func documentedCommandsExist() throws {
        let commands = Self.documentedCommands()
        #expect(commands.count >= 10, "found only \(commands)")
        for words in commands {
            // `akrpctl A B`: B may be an argument of A rather than a subcommand; A must exist, and A B when A has subcommands.
            // (`--help` after an unknown name prints the parent's help with status 0: the usage line tells.)
            let first = try akrpctl.run(["help", words[0]])
            #expect(first.output.contains("USAGE: akrpctl \(words[0])"), "documented `akrpctl \(words[0])` does not exist")
            if words.count == 2, first.output.contains("SUBCOMMANDS") {
                let second = try akrpctl.run(["help"] + words)
                #expect(second.output.contains("USAGE: akrpctl \(words.joined(separator: " "))"),
                    "documented `akrpctl \(words.joined(separator: " "))` does not exist")
            }
        }
    }

    @Test func overviewListsOnlyCommandsThatExist() throws {
        let help = try akrpctl.run(["--help"])
        #expect(help.status == 0)
        guard let section = help.output.components(separatedBy: "SUBCOMMANDS:").last else { return }
        let names = section.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first,
                word.allSatisfy({ $0.isLowercase || $0 == "-" })
            else { return nil }
            return String(word)
        }
        #expect(names.count >= 10, "\(names)")
        for name in names {
            #expect(try akrpctl.run(["help", name]).output.contains("USAGE: akrpctl \(name)"), "overview lists '\(name)'")
        }
    }
}
