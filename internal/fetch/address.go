package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrBlockedAddress is returned when a request would connect to an
// address that is not on the public internet (loopback, private, link-local,
// multicast, unspecified, CGNAT, reserved) and the policy does not allow it.
var ErrBlockedAddress = errors.New("address not allowed")

// special are the IPv4 and IPv6 ranges, beyond those netip names, that are
// not public unicast addresses.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
}

// Blocked reports why addr is not a public unicast address ("" when it
// is one). An IPv4 address written as IPv6 (::ffff:127.0.0.1) or behind
// the well-known NAT64 prefix (64:ff9b::7f00:1) is judged as the IPv4
// address it reaches.
func Blocked(addr netip.Addr) string {
	addr = addr.Unmap()
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !addr.IsValid():
		return "invalid"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, s := range special {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	return ""
}

// dialControl refuses, after DNS resolution, a connection to an address
// Blocked names, unless allowPrivate. It runs on the address actually
// dialled, so a name that resolves (or is rebound) to 127.0.0.1 is refused
// as surely as the literal.
// Addresses within exempt pass (the tests reach one loopback address and
// are refused another).
func dialControl(allowPrivate bool, exempt []netip.Prefix) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q: %v", ErrBlockedAddress, address, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: %q is not an IP address", ErrBlockedAddress, host)
		}
		for _, p := range exempt {
			if p.Contains(ip.Unmap()) {
				return nil
			}
		}
		if why := Blocked(ip); why != "" {
			return fmt.Errorf("%w: %s is a %s address (the site does not set allow_private_addresses)", ErrBlockedAddress, ip, why)
		}
		return nil
	}
}
