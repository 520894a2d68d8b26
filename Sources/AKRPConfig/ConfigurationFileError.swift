/// Why a configuration file cannot be used. Text errors name the line (1-based) and the section and field
/// as the file writes them; errors of ``NodeConfiguration/load(contentsOf:)`` also name the file.
///
/// `section` is the section header's text without brackets (`engine`, `neighbour gamma`), nil for the
/// top-level settings before any section.
public enum ConfigurationFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file holds no settings: it is empty or has only blank lines and comments.
    case emptyFile
    /// Line `line` is not a `[section]` header, a `field = value` setting (a `node`/`link` line in
    /// `[topology]`), a comment or blank; `reason` says what was expected.
    case syntax(line: Int, section: String?, reason: String)
    /// A `[section]` header names no known section; `suggestion` is a known one written alike.
    case unknownSection(line: Int, section: String, suggestion: String?)
    /// A section is given a second time (first on `firstLine`).
    case duplicateSection(line: Int, section: String, firstLine: Int)
    /// The section has no field `field`; `suggestion` is a field of the section written alike.
    case unknownField(line: Int, section: String?, field: String, suggestion: String?)
    /// The field belongs to another section, `belongsIn` (`engine`, or the empty string for the top level).
    case misplacedField(line: Int, section: String?, field: String, belongsIn: String)
    /// The field is set a second time in the same section (first on `firstLine`).
    case duplicateField(line: Int, section: String?, field: String, firstLine: Int)
    /// A required field is not set. `line` is the section header's (nil for the top level).
    case missingField(line: Int?, section: String?, field: String)
    /// A required section (`topology`) is not in the file.
    case missingSection(section: String)
    /// The value of `field` (nil: the line or section as a whole) cannot be used; `reason` says what is
    /// allowed and what was given. `line` is nil only for a problem with a default value whose section is
    /// not written.
    case invalidValue(line: Int?, section: String?, field: String?, reason: String)
    /// The topology links this node to `node` named `name` (on line `line`, the link's), but the file has no
    /// `[neighbour]` section for it.
    case missingNeighbour(line: Int?, node: UInt32, name: String)
    /// The `[neighbour …]` section on `line` configures a node that is not a neighbour of this node.
    case extraNeighbour(line: Int, section: String, reason: String)
    /// The file could not be read (`reason`: the system's error).
    case unreadable(path: String, reason: String)
    /// The file is larger than ``ConfigurationFile/maximumSize``.
    case tooLarge(path: String, bytes: Int, limit: Int)
    /// The file is a configuration image and is refused.
    case image(path: String, ConfigurationImageError)
    /// The text file at `path` is refused.
    indirect case inFile(path: String, ConfigurationFileError)

    /// One line, e.g. `line 14: [neighbour 2] field 'rate': must be a positive integer (bits per second), got 'fast'`.
    public var description: String {
        switch self {
        case .emptyFile:
            "empty file: no settings (only blank lines and comments)"
        case .syntax(let line, let section, let reason):
            Self.at(line, section, nil) + reason
        case .unknownSection(let line, let section, let suggestion):
            "line \(line): unknown section [\(section)]" + Self.hint(suggestion.map { "[\($0)]" })
        case .duplicateSection(let line, let section, let firstLine):
            "line \(line): section [\(section)] given twice (first on line \(firstLine))"
        case .unknownField(let line, let section, let field, let suggestion):
            Self.at(line, section, nil) + "unknown field '\(field)'" + Self.hint(suggestion.map { "'\($0)'" })
        case .misplacedField(let line, let section, let field, let belongsIn):
            Self.at(line, section, field) + "belongs "
                + (belongsIn.isEmpty ? "at the top of the file, before any section" : "in section [\(belongsIn)]")
        case .duplicateField(let line, let section, let field, let firstLine):
            Self.at(line, section, field) + "given twice (first on line \(firstLine))"
        case .missingField(let line, let section, let field):
            Self.at(line, section, nil) + "missing required field '\(field)'"
        case .missingSection(let section):
            "missing required section [\(section)]"
        case .invalidValue(let line, let section, let field, let reason):
            Self.at(line, section, field) + reason
        case .missingNeighbour(let line, let node, let name):
            Self.at(line, "topology", nil) + "node \(node) '\(name)' is linked to this node but has no [neighbour \(node)] section"
        case .extraNeighbour(let line, let section, let reason):
            Self.at(line, section, nil) + reason
        case .unreadable(let path, let reason):
            "\(path): cannot read: \(reason)"
        case .tooLarge(let path, let bytes, let limit):
            "\(path): \(bytes) bytes, larger than the \(limit) bytes a configuration file may have"
        case .image(let path, let error):
            "\(path): configuration image: \(error)"
        case .inFile(let path, let error):
            "\(path): \(error)"
        }
    }

    /// `line 14: [neighbour 2] field 'rate': ` with the parts that are known.
    static func at(_ line: Int?, _ section: String?, _ field: String?) -> String {
        var out = line.map { "line \($0): " } ?? ""
        out += ConfigurationValidationError.prefix(section: section.map { "[\($0)]" } ?? "", field: field)
        return out
    }

    static func hint(_ suggestion: String?) -> String { suggestion.map { " (did you mean \($0)?)" } ?? "" }
}
