// SPDX-License-Identifier: GPL-2.0
/*
 * rvs XDP steering program: sends a served interface's virtual-service traffic to the
 * AF_XDP socket of its RX queue and passes everything else (SSH, health-check replies,
 * VRRP, sync) to the kernel unchanged. All policy reaches it through maps that rvsd keeps
 * in step with the service table, so the program itself never changes at run time.
 *
 * Self-contained on purpose (no kernel or libbpf headers): the build needs only
 * `clang -target bpf`, and the few constants below are ABI that never changes.
 *
 * While no AF_XDP socket is bound for a queue (rvsd crashed and has not restarted yet),
 * steered traffic is dropped, not passed: the kernel would answer it with RSTs and kill
 * the connections that the restarted rvsd is about to pick up again.
 */

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

enum { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_XSKMAP = 17,
};
#define BPF_F_NO_PREALLOC 1

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;

#define bswap16(x) __builtin_bswap16(x)
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6 58
#define IPPROTO_SCTP 132

#define AF4 4
#define AF6 6

/* A service or real-server endpoint: (family, protocol, address, port). proto 0 and port
 * 0 are wildcards written by rvsd as separate entries (see rvs-io/src/steer.rs). */
struct ep_key {
	__u8 family;
	__u8 proto;
	__u16 port; /* network order */
	__u8 addr[16];
};

struct addr_key {
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct lpm_key {
	__u32 prefixlen; /* counts the family byte and pad too: 32 + address bits */
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

/* Queue index -> AF_XDP socket. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Virtual services: (proto, vaddr, vport), (proto, vaddr, 0) for port-0 services, and
 * (0, vaddr, 0) for every vaddr, which steers its fragments and ICMP errors. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ep_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} svcs SEC(".maps");

/* Real servers whose replies come back through the director (NAT, FULLNAT):
 * (proto, daddr, dport), and (0, daddr, 0) for their ICMP errors. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ep_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} dests SEC(".maps");

/* Addresses the kernel owns: a real server's packet to one of them is the director's own
 * traffic (a health check), not a NAT reply. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct addr_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} local SEC(".maps");

/* Addresses rvs answers for and the kernel does not own (VIPs not configured on an
 * interface, FULLNAT local addresses): everything to them is steered, ARP and NS too. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct addr_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} owned SEC(".maps");

/* Replies to connections the director itself opened to a virtual service (curl on the
 * director, as in seed 001): (proto, saddr, sport, daddr, dport) as the reply arrives. Their
 * destination is the kernel's own address, so only this exact match tells them from the
 * director's own traffic. rvsd adds an entry when such a conn is scheduled. */
struct lconn_key {
	__u8 family;
	__u8 proto;
	__u16 sport;
	__u16 dport;
	__u8 pad[2];
	__u8 saddr[16];
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lconn_key);
	__type(value, __u8);
} lconns SEC(".maps");

/* Destination prefixes steered whole (firewall-mark rules). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct lpm_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} nets SEC(".maps");

enum { ST_PASS, ST_STEER, ST_NOSOCK, ST_ARP, ST_NDP, ST_MAX };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __attribute__((always_inline)) void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &i);
	if (c)
		*c += 1;
}

static __attribute__((always_inline)) int steer(struct xdp_md *ctx, __u32 what)
{
	long r = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
	count(r == XDP_REDIRECT ? what : ST_NOSOCK);
	return (int)r;
}

static __attribute__((always_inline)) int pass(void)
{
	count(ST_PASS);
	return XDP_PASS;
}

static __attribute__((always_inline)) void copy4(__u8 *d, const __u8 *s)
{
	d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3];
}

static __attribute__((always_inline)) void copy16(__u8 *d, const __u8 *s)
{
#pragma unroll
	for (int i = 0; i < 16; i++)
		d[i] = s[i];
}

static __attribute__((always_inline)) int is_owned(__u8 fam, const __u8 *a)
{
	struct addr_key k = { .family = fam };
	if (fam == AF4)
		copy4(k.addr, a);
	else
		copy16(k.addr, a);
	return bpf_map_lookup_elem(&owned, &k) != 0;
}

static __attribute__((always_inline)) int is_local(struct addr_key *k)
{
	return bpf_map_lookup_elem(&local, k) != 0;
}

/* The decision for one IP packet, addresses already copied into keys. */
static __attribute__((always_inline)) int ip_decide(struct xdp_md *ctx, struct ep_key *d,
						    struct ep_key *s, __u8 proto, int frag,
						    int icmp_error)
{
	struct addr_key ak = { .family = d->family };
	copy16(ak.addr, d->addr);
	if (bpf_map_lookup_elem(&owned, &ak))
		return steer(ctx, ST_STEER);

	struct lpm_key lk = { .prefixlen = 32 + (d->family == AF4 ? 32 : 128), .family = d->family };
	copy16(lk.addr, d->addr);
	if (bpf_map_lookup_elem(&nets, &lk))
		return steer(ctx, ST_STEER);

	if (frag || icmp_error) {
		d->proto = 0;
		d->port = 0;
		if (bpf_map_lookup_elem(&svcs, d))
			return steer(ctx, ST_STEER);
		if (icmp_error) {
			s->proto = 0;
			s->port = 0;
			if (bpf_map_lookup_elem(&dests, s) && !is_local(&ak))
				return steer(ctx, ST_STEER);
		}
		return pass();
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return pass();
	if (bpf_map_lookup_elem(&svcs, d))
		return steer(ctx, ST_STEER);
	__u16 port = d->port;
	d->port = 0;
	if (bpf_map_lookup_elem(&svcs, d))
		return steer(ctx, ST_STEER);
	d->port = port;
	struct lconn_key lc = { .family = d->family, .proto = proto, .sport = s->port, .dport = port };
	copy16(lc.saddr, s->addr);
	copy16(lc.daddr, d->addr);
	if (bpf_map_lookup_elem(&lconns, &lc))
		return steer(ctx, ST_STEER);
	if (!is_local(&ak)) {
		if (bpf_map_lookup_elem(&dests, s))
			return steer(ctx, ST_STEER);
		/* A real server of a port-0 or fwmark service answers from any port. */
		s->port = 0;
		if (bpf_map_lookup_elem(&dests, s))
			return steer(ctx, ST_STEER);
	}
	return pass();
}

SEC("xdp")
int rvs_steer(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u8 *p = data + 14;
	if (p > end)
		return pass();
	__u16 et = bswap16(*(__u16 *)(data + 12));
	if (et == ETH_P_8021Q || et == ETH_P_8021AD) {
		if (p + 4 > end)
			return pass();
		et = bswap16(*(__u16 *)(p + 2));
		p += 4;
	}

	if (et == ETH_P_ARP) {
		/* IPv4-over-Ethernet ARP: request (1) for an address rvs answers for. */
		if (p + 28 > end)
			return pass();
		if (p[7] != 1 || p[4] != 6 || p[5] != 4)
			return pass();
		if (is_owned(AF4, p + 24))
			return steer(ctx, ST_ARP);
		return pass();
	}

	struct ep_key d = {}, s = {};
	__u8 proto;
	__u8 *l4;
	int frag = 0;
	if (et == ETH_P_IP) {
		if (p + 20 > end)
			return pass();
		__u8 ihl = (p[0] & 0x0f) * 4;
		if ((p[0] >> 4) != 4 || ihl < 20)
			return pass();
		proto = p[9];
		d.family = s.family = AF4;
		copy4(d.addr, p + 16);
		copy4(s.addr, p + 12);
		/* More-fragments or a non-zero offset: no ports to look at. */
		frag = (bswap16(*(__u16 *)(p + 6)) & 0x3fff) != 0;
		l4 = p + ihl;
	} else if (et == ETH_P_IPV6) {
		if (p + 40 > end)
			return pass();
		if ((p[0] >> 4) != 6)
			return pass();
		proto = p[6];
		d.family = s.family = AF6;
		copy16(d.addr, p + 24);
		copy16(s.addr, p + 8);
		l4 = p + 40;
		if (proto == IPPROTO_FRAGMENT)
			frag = 1;
	} else {
		return pass();
	}
	d.proto = s.proto = proto;

	int icmp_error = 0;
	if (!frag) {
		if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
			if (l4 + 4 > end)
				return pass();
			s.port = *(__u16 *)l4;
			d.port = *(__u16 *)(l4 + 2);
		} else if (proto == IPPROTO_ICMP) {
			if (l4 + 1 > end)
				return pass();
			/* unreachable, time exceeded, parameter problem */
			icmp_error = l4[0] == 3 || l4[0] == 11 || l4[0] == 12;
		} else if (proto == IPPROTO_ICMPV6) {
			if (l4 + 1 > end)
				return pass();
			/* Neighbour solicitation for an address rvs answers for. */
			if (l4[0] == 135) {
				if (l4 + 24 > end)
					return pass();
				if (is_owned(AF6, l4 + 8))
					return steer(ctx, ST_NDP);
				return pass();
			}
			icmp_error = l4[0] >= 1 && l4[0] <= 4;
		}
	}
	return ip_decide(ctx, &d, &s, proto, frag, icmp_error);
}

char _license[] SEC("license") = "GPL";
