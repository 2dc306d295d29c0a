package tessera

import (
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// staticScheme is the scheme of the per-client resolver that serves a fixed address list.
const staticScheme = "tessera-static"

// staticTarget turns `ipv4:10.0.0.1:6566,10.0.0.2:6566` (or `ipv6:[::1]:6566,...`), the fixed-list
// targets of grpc-js and gRPC C core, which grpc-go does not resolve, into a target of a resolver
// holding those addresses, with the dial option that installs it and the authority (the first
// address's host, which TLS checks unless TLSConfig.ServerName says otherwise). Other targets pass
// unchanged.
func staticTarget(target string) (resolved string, options []grpc.DialOption, authority string) {
	var list string
	switch {
	case strings.HasPrefix(target, "ipv4:"):
		list = strings.TrimPrefix(target, "ipv4:")
	case strings.HasPrefix(target, "ipv6:"):
		list = strings.TrimPrefix(target, "ipv6:")
	default:
		return target, nil, ""
	}
	list = strings.TrimPrefix(list, "//") // ipv4:///a:1 is also accepted by gRPC C core
	var addresses []resolver.Address
	for _, address := range strings.Split(list, ",") {
		if address = strings.TrimSpace(address); address != "" {
			addresses = append(addresses, resolver.Address{Addr: address})
		}
	}
	if len(addresses) == 0 {
		return target, nil, ""
	}
	builder := manual.NewBuilderWithScheme(staticScheme)
	builder.InitialState(resolver.State{Addresses: addresses})
	authority = addresses[0].Addr
	if host, _, err := net.SplitHostPort(authority); err == nil {
		authority = host
	}
	return staticScheme + ":///" + list, []grpc.DialOption{grpc.WithResolvers(builder)}, authority
}
