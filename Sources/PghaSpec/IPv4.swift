/// Dotted-quad IPv4 addresses and CIDR arithmetic (no DNS, no IPv6: the pgsql agent, IPaddr2 VIPs
/// and the seeds are all IPv4).
public struct IPv4: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  !(part.count > 1 && part.hasPrefix("0")), let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    init(value: UInt32) { self.value = value }

    public var description: String {
        [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    public static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }

    public func network(_ prefix: Int) -> IPv4 { IPv4(value: value & Self.mask(prefix)) }
    public func broadcast(_ prefix: Int) -> IPv4 { IPv4(value: value | ~Self.mask(prefix)) }
    public func inSubnet(of other: IPv4, prefix: Int) -> Bool { network(prefix) == other.network(prefix) }
}

/// "192.168.0.0/24"
public struct CIDR: Equatable, Sendable {
    public let address: IPv4
    public let prefix: Int
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4(String(parts[0])), let prefix = Int(parts[1]), (0...32).contains(prefix)
        else { return nil }
        self.address = address
        self.prefix = prefix
    }
}
