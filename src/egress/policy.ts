import { BlockList, isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

/**
 * Which URLs given by users llmbase may send requests to. Endpoints of LLM services (and,
 * later, webhook URLs) come from users; without a check, a user could make the server call
 * its own network: a cloud metadata service at 169.254.169.254, an admin port on localhost,
 * a database on 10.x. Private, loopback and link-local destinations are therefore refused
 * unless the operator allows them with LLMBASE_PRIVATE_HOSTS (a local Ollama, a vLLM on the
 * LAN).
 *
 * This module judges what can be judged from the URL alone (literal addresses and names that
 * are private by definition). Names that resolve to private addresses are caught when a
 * connection is made, against the same policy.
 */
export interface EgressPolicy {
  /** `*`: every private destination is allowed. */
  allowAllPrivate: boolean
  /** Host names allowed although private (lower case), such as `localhost` or `ollama.lan`. */
  allowedHosts: ReadonlySet<string>
  /** Address ranges allowed although private. */
  allowedRanges: BlockList
}

/**
 * Special-purpose ranges come from ipaddr.js, which follows IANA's registries: an address is
 * public only when it classifies as plain `unicast`; loopback, private, link-local (cloud
 * metadata at 169.254.169.254), carrier-grade NAT, reserved, multicast, documentation and the
 * rest are private. Our hand-kept table before it missed the IPv6 forms below.
 */
const isPublicUnicast = (address: ipaddr.IPv4 | ipaddr.IPv6) => address.range() === 'unicast'

/**
 * The IPv4 address an IPv6 address carries, where the network would deliver to it:
 * IPv4-mapped `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` (RFC 6052: on
 * a NAT64 network `[64:ff9b::a9fe:a9fe]` reaches 169.254.169.254), 6to4 `2002:AABB:CCDD::/48`
 * and the deprecated IPv4-compatible `::a.b.c.d`. Null when there is none.
 */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const parts = address.parts
  const fromWords = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
  const range = address.range()
  if (range === 'ipv4Mapped') return address.toIPv4Address()
  if (range === 'rfc6145' || range === 'rfc6052') return fromWords(parts[6] as number, parts[7] as number)
  if (range === '6to4') return fromWords(parts[1] as number, parts[2] as number)
  const compatible = parts.slice(0, 6).every((part) => part === 0) && (parts[6] !== 0 || (parts[7] as number) > 1)
  return compatible ? fromWords(parts[6] as number, parts[7] as number) : null
}

/**
 * IPv6 ranges refused outright although ipaddr.js may call parts of them unicast: Teredo
 * (`2001::/32`) tunnels to an IPv4 address we cannot judge from the outside, and the local-use
 * NAT64 prefix `64:ff9b:1::/48` (RFC 8215) embeds IPv4 at a position only its operator knows.
 */
const ALWAYS_PRIVATE_V6: Array<[ipaddr.IPv6, number]> = [
  [ipaddr.IPv6.parse('2001::'), 32],
  [ipaddr.IPv6.parse('64:ff9b:1::'), 48],
]

/** Names that can only mean this machine or a private network. */
const PRIVATE_NAME = /(^localhost$|\.localhost$|\.local$|\.internal$|\.lan$|\.home\.arpa$)/

/** Parses LLMBASE_PRIVATE_HOSTS: `*`, host names, addresses and CIDR ranges, comma-separated. */
export function parseEgressPolicy(entries: readonly string[]): { policy: EgressPolicy; problems: string[] } {
  const problems: string[] = []
  const allowedHosts = new Set<string>()
  const allowedRanges = new BlockList()
  let allowAllPrivate = false
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') {
      allowAllPrivate = true
      continue
    }
    const [address, prefixText] = entry.split('/')
    const family = isIP(address ?? '')
    if (family) {
      const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText)
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        problems.push(`LLMBASE_PRIVATE_HOSTS entry "${raw}" has a bad prefix length`)
        continue
      }
      allowedRanges.addSubnet(address as string, prefix, family === 4 ? 'ipv4' : 'ipv6')
    } else if (/^[a-z0-9.-]+$/.test(entry) && prefixText === undefined) {
      allowedHosts.add(entry)
    } else {
      problems.push(`LLMBASE_PRIVATE_HOSTS entry "${raw}" is not "*", a host name, an address or a CIDR range`)
    }
  }
  return { policy: { allowAllPrivate, allowedHosts, allowedRanges }, problems }
}

export const isPrivateAddress = (text: string): boolean => {
  if (!ipaddr.isValid(text)) return false
  const address = ipaddr.parse(text)
  if (address.kind() === 'ipv4') return !isPublicUnicast(address)
  const v6 = address as ipaddr.IPv6
  if (ALWAYS_PRIVATE_V6.some((range) => v6.match(range))) return true
  const v4 = embeddedIpv4(v6)
  if (v4) return !isPublicUnicast(v4)
  return !isPublicUnicast(v6)
}

function isAllowedAddress(policy: EgressPolicy, address: string): boolean {
  const family = isIP(address)
  return policy.allowAllPrivate || (family !== 0 && policy.allowedRanges.check(address, family === 4 ? 'ipv4' : 'ipv6'))
}

/**
 * Why `url` may not be used as an endpoint, or null when it may. Only http and https, no
 * credentials in the URL (keys belong in the instance's write-only `api_key`), and no private
 * destination that the policy does not allow.
 */
export function endpointProblem(url: string, policy: EgressPolicy): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'is not a valid URL'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL'
  if (parsed.username || parsed.password) return 'must not contain credentials; set api_key instead'
  // `localhost.` is `localhost`: a trailing dot only makes a name fully qualified.
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.+$/, '')
  if (policy.allowedHosts.has(host)) return null
  if (isIP(host)) {
    if (isPrivateAddress(host) && !isAllowedAddress(policy, host)) {
      return `points to the private address ${host}; allow it with LLMBASE_PRIVATE_HOSTS`
    }
    return null
  }
  if (PRIVATE_NAME.test(host) && !policy.allowAllPrivate) {
    return `points to the private host ${host}; allow it with LLMBASE_PRIVATE_HOSTS`
  }
  return null
}
