/**
 * IP address lists (`trusted_proxies`, `allowed_ips`) on node:net's BlockList, shared by oauth/ and
 * proxy/. Imports nothing from src; the CIDR strings were validated by config/schema.ts `parseCidr`.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * Builds a list of addresses and CIDR blocks ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32").
 * @param cidrs already validated by the config schema
 */
export function addressList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits] = cidr.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** @returns whether `address` is an IP address in `list` ("" or anything not an IP: false) */
export function listed(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
