import CAKRPTerminal

#if canImport(Glibc)
import Glibc
#endif

/// Opens the tty the SMP serial transport serves: a real line (the USB gadget's CDC-ACM port) in raw
/// mode, or — for `pty:PATH` — a new pseudo-terminal whose other end is linked at PATH (a stand-in for
/// the gadget port where the machine has none; a client opens PATH like a serial port).
enum SerialPort {
    struct Opened {
        /// The descriptor the server reads and writes (owned by the channel once handed over).
        var fd: Int32
        /// The pty's other end, kept open so the line stays up between clients (closed at stop).
        var keepOpen: Int32?
        var description: String
    }

    enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        var description: String {
            switch self {
            case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
            }
        }
    }

    static func open(_ spec: String) throws(Failure) -> Opened {
        if spec.hasPrefix("pty:") {
            let link = String(spec.dropFirst(4))
            var name = [CChar](repeating: 0, count: 128)
            let master = CAKRPTerminal_openPseudoTerminal(&name, UInt(name.count))
            guard master >= 0 else { throw .system("opening a pseudo-terminal", errno) }
            let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let slave = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
            guard slave >= 0 else {
                let e = errno
                close(master)
                throw .system("open \(path)", e)
            }
            makeRaw(slave)
            makeRaw(master)
            unlink(link)
            guard symlink(path, link) == 0 else {
                let e = errno
                close(master)
                close(slave)
                throw .system("symlink \(link) -> \(path)", e)
            }
            return Opened(fd: master, keepOpen: slave, description: "\(link) -> \(path)")
        }
        let fd = Glibc.open(spec, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .system("open \(spec)", errno) }
        makeRaw(fd)
        return Opened(fd: fd, keepOpen: nil, description: spec)
    }

    static func makeRaw(_ fd: Int32) {
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { return }
        cfmakeraw(&t)
        _ = tcsetattr(fd, TCSANOW, &t)
    }
}
