import { BlockList, isIP } from 'node:net'

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

const PRIVATE_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata services
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 3, 'ipv4'], // multicast and reserved
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
]

const privateAddresses = new BlockList()
for (const [address, prefix, family] of PRIVATE_RANGES) privateAddresses.addSubnet(address, prefix, family)

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

export const isPrivateAddress = (address: string): boolean => {
  const family = isIP(address)
  if (family === 0) return false
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return privateAddresses.check(mapped[1] as string, 'ipv4')
  return privateAddresses.check(address, family === 4 ? 'ipv4' : 'ipv6')
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
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
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
