/**
 * The effective settings of a run. Keys keep the names operators already use
 * in ip_blocks.conf (the original script's variables), so that messages,
 * `check-config` and the documentation all speak one vocabulary.
 */
export interface Settings {
  /** The map file written for the web server. */
  BLOCKEDFILE: string;
  /** The change log for the operators. */
  LOGFILE: string;
  /** Canonical addresses and networks (CIDR) that never get statistics and never appear in the map. */
  WHITELIST: string[];
  /** Canonical addresses always written as `ban`, and networks whose clients are banned. */
  BLACKLIST: string[];
  /** Files of more WHITELIST / BLACKLIST entries, one address or network per line, `#` comments. */
  WHITELIST_FILE: string | undefined;
  BLACKLIST_FILE: string | undefined;
  /** Leave private, loopback, link-local and other non-global addresses out of the analysis. */
  EXCLUDE_NON_GLOBAL: boolean;
  /**
   * Clients are counted per network of this prefix length: 128 / 32 count
   * per address (the original). An IPv6 client owns at least a /64.
   */
  IPV6_PREFIX: number;
  IPV4_PREFIX: number;
  /** User-agent prefixes that turn a would-be bulk client into a block. */
  UA_BLOCKLIST: string[];
  /** Length of the long window, in seconds (BLOCKCOOLOFF_DELTA or BLOCKCOOLOFF_PERIOD). */
  BLOCKCOOLOFF_SECONDS: number;
  /** Length of the short window, in seconds (BULKCOOLOFF_DELTA or BULKCOOLOFF_PERIOD). */
  BULKCOOLOFF_SECONDS: number;
  BULKLONG_LIMIT: number;
  BULKSHORT_LIMIT: number;
  BLOCK_UPPER: number;
  BLOCK_LOWER: number;
  BLOCK_LOADFAC: number;
  BULK_LOADFAC: number;
  BULK_LOWER: number;
  MAX_BULK_IPS: number;
  /** A log smaller than this many bytes is not analysed (the original's "not enough data" rule). */
  MIN_LOG_SIZE: number;
  /**
   * Suffixes of the log's previous generations, newest first (logrotate's
   * LOG.1, LOG.2.gz). Read when the window starts before the log's first line.
   */
  ROTATED_LOGS: string[];
  /** Keep MAP.state so that the next run reads only what changed since (see README, Performance). */
  INCREMENTAL: boolean;
  /** Path fragments that make a request an API request. */
  API_ENDPOINTS: string[];
  /** Where the 15-minute load average is read (third field). */
  LOADAVG_FILE: string;
  /** nginx geo include of the blacklist (networks included); none when undefined. */
  GEO_FILE: string | undefined;
  /** The banned clients and blacklisted networks as a file for `nft -f`; none when undefined. */
  NFT_FILE: string | undefined;
  /** The same as a file for `ipset restore`; none when undefined. */
  IPSET_FILE: string | undefined;
  /** Names the firewall sets: the nft table `inet NAME`, the ipsets `NAME4` and `NAME6`. */
  FIREWALL_NAME: string;
  /** Shell command run after the map changed, e.g. `nginx -t && nginx -s reload`. */
  ON_CHANGE: string | undefined;
  /** Seconds ON_CHANGE may run before its whole process group is killed. */
  ON_CHANGE_TIMEOUT: number;
  /** Prometheus textfile (node_exporter's textfile collector); none when undefined. */
  METRICS_FILE: string | undefined;
  /** Seconds after which a log whose newest line is older is stale (nothing decided, exit 69); undefined: the long window; 0: never. */
  STALE_AFTER: number | undefined;
  /** More than this share of unreadable lines read, and the run decides nothing and says so (exit 69). */
  MAX_UNREADABLE_SHARE: number;
  /** Safety valve: more clients than this newly blocked in one run means the input is wrong. */
  MAX_NEW_BLOCKS: number;
  /** Safety valve: a would-be new block that made more than this share of all requests is a proxy, not a client. */
  MAX_BLOCKED_SHARE: number;
  /**
   * The log's formats, as the server's configuration writes them: a preset
   * (combined, common, vhost_combined, caddy), an Apache LogFormat string or
   * an nginx log_format. Tried in order; the first that reads a line wins.
   */
  LOG_FORMAT: string[];
  /**
   * Several servers' logs, read in one run and counted together, each with
   * its own formats (LOG_FORMAT when undefined). Empty: the log named on the
   * command line. The command line's logs, when given, are read instead.
   */
  LOG_FILES: LogFileSetting[];
  /** The field that holds the client's address ('%h' / '$remote_addr' when undefined), e.g. '$http_x_forwarded_for'. */
  CLIENT_ADDRESS: string | undefined;
  /** Canonical addresses and networks of the proxies (CDN edges, load balancers) whose forwarded-for header is believed. */
  TRUSTED_PROXIES: string[];
  /** A file of more TRUSTED_PROXIES entries, one per line, `#` comments. */
  TRUSTED_PROXIES_FILE: string | undefined;
  /** ClickHouse's HTTP interface (`http://127.0.0.1:8123/?database=logs`): the window's counts are asked of it instead of read from logs; undefined: read the logs. */
  CLICKHOUSE_URL: string | undefined;
  /** The table of requests there, `table` or `database.table`. */
  CLICKHOUSE_TABLE: string;
  /** Seconds ClickHouse may take to answer before the run gives up (exit 75, map untouched). */
  CLICKHOUSE_TIMEOUT: number;
}

/** One entry of LOG_FILES: `'/var/log/a.log'` or `('/var/log/a.log', 'vhost_combined')`. */
export interface LogFileSetting {
  path: string;
  /** The log's own formats; undefined: LOG_FORMAT. */
  formats: string[] | undefined;
}

/** Where each setting's value came from: `FILE:LINE`, or 'default'. */
export type SettingOrigins = Record<keyof Settings, string>;

export interface LoadedSettings {
  settings: Settings;
  origins: SettingOrigins;
  /** The settings file that was read, if any. */
  file: string | undefined;
}

/**
 * Where a run's files are when neither a flag nor the settings file says:
 * the settings file itself, the map and the change log.
 */
export interface Layout {
  /** BASEDIR in the settings file: the directory the tool is installed in. */
  baseDir: string;
  settingsFile: string;
  mapFile: string;
  changeLog: string;
}

/** The original's layout: everything under the installation directory (a checkout). */
export function checkoutLayout(baseDir: string): Layout {
  return {
    baseDir,
    settingsFile: `${baseDir}/settings/ip_blocks.conf`,
    mapFile: `${baseDir}/settings/ip_blocks.map`,
    changeLog: `${baseDir}/log/restricted_ip.log`,
  };
}

/**
 * An installed package's layout: its own directory is replaced by any
 * upgrade and, under a sandbox, read-only; configuration, state and logs
 * live where the system keeps them (and where systemd's ConfigurationDirectory,
 * StateDirectory and LogsDirectory put them).
 */
export function systemLayout(baseDir: string): Layout {
  return {
    baseDir,
    settingsFile: '/etc/ipanalyse/ip_blocks.conf',
    mapFile: '/var/lib/ipanalyse/ip_blocks.map',
    changeLog: '/var/log/ipanalyse/restricted_ip.log',
  };
}

/** A plain directory stands for the checkout layout under it. */
export function layoutOf(installation: Layout | string): Layout {
  return typeof installation === 'string' ? checkoutLayout(installation) : installation;
}

/** Every setting at its default, each with the origin 'default'. */
export function defaultsWithOrigins(installation: Layout | string): { settings: Settings; origins: SettingOrigins } {
  const settings = defaultSettings(installation);
  const origins = Object.fromEntries(Object.keys(settings).map((key) => [key, 'default'])) as SettingOrigins;
  return { settings, origins };
}

/** The original's defaults; the files are where the layout puts them. */
export function defaultSettings(installation: Layout | string): Settings {
  const layout = layoutOf(installation);
  return {
    BLOCKEDFILE: layout.mapFile,
    LOGFILE: layout.changeLog,
    WHITELIST: [],
    BLACKLIST: [],
    WHITELIST_FILE: undefined,
    BLACKLIST_FILE: undefined,
    EXCLUDE_NON_GLOBAL: false,
    IPV6_PREFIX: 128,
    IPV4_PREFIX: 32,
    UA_BLOCKLIST: [],
    BLOCKCOOLOFF_SECONDS: 3600,
    BULKCOOLOFF_SECONDS: 900,
    BULKLONG_LIMIT: 8000,
    BULKSHORT_LIMIT: 2000,
    BLOCK_UPPER: 19000,
    BLOCK_LOWER: 4000,
    BLOCK_LOADFAC: 380,
    BULK_LOADFAC: 160,
    BULK_LOWER: 1500,
    MAX_BULK_IPS: 85,
    MIN_LOG_SIZE: 2 * 1030 * 1024,
    ROTATED_LOGS: ['.1', '.2.gz'],
    INCREMENTAL: true,
    API_ENDPOINTS: ['/search', '/reverse', '/details'],
    LOADAVG_FILE: '/proc/loadavg',
    GEO_FILE: undefined,
    NFT_FILE: undefined,
    IPSET_FILE: undefined,
    FIREWALL_NAME: 'ipanalyse',
    ON_CHANGE: undefined,
    ON_CHANGE_TIMEOUT: 60,
    METRICS_FILE: undefined,
    STALE_AFTER: undefined,
    MAX_UNREADABLE_SHARE: 0.1,
    MAX_NEW_BLOCKS: 50,
    MAX_BLOCKED_SHARE: 0.8,
    LOG_FORMAT: ['combined'],
    LOG_FILES: [],
    CLIENT_ADDRESS: undefined,
    TRUSTED_PROXIES: [],
    TRUSTED_PROXIES_FILE: undefined,
    CLICKHOUSE_URL: undefined,
    CLICKHOUSE_TABLE: 'access_log',
    CLICKHOUSE_TIMEOUT: 30,
  };
}
