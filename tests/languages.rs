//! Every row of the language table, end to end.
//!
//! For each language with a grammar: its query compiles, the grammar loads into a parser of the
//! tree-sitter version we link, a realistic sample file parses without errors, and exactly the
//! expected annotations come out of it. Languages without a grammar go through the lexical
//! fallback with the same check. The samples live in `tests/fixtures/polyglot/` and together
//! describe one small system (see `tests/model_snapshot.rs`); most of them hide fake annotations
//! in strings, heredocs and templates, which must never be extracted.
//!
//! A grammar/ABI mismatch, a query naming a node kind the grammar does not have, or a comment
//! marker that is not stripped fails here, in CI, and not at a user's desk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use threatmark::annotation::{self, Annotation, Locator};
use threatmark::comments::{self, Method, Options};
use threatmark::diagnostic::Diagnostic;
use threatmark::lang::{self, CAPTURES, LANGUAGES, Language};
use threatmark::text::LineIndex;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/polyglot");
const GRAMMARS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/grammars");

/// One sample file and what must be extracted from it.
struct Sample {
    /// Relative to `tests/fixtures/polyglot`.
    path: &'static str,
    /// The table row that detection must pick for it.
    lang: &'static str,
    /// Every annotation in file order, as [`summary`] writes it.
    expected: &'static [&'static str],
}

const SAMPLES: &[Sample] = &[
    Sample {
        path: "deploy/deploy.sh",
        lang: "bash",
        expected: &[
            "4: @control Image signature verification (#image_signing): cosign checks that CI built and signed\n| the exact digest that is about to run",
            "6: @mitigates #gateway against #supply_chain with #image_signing",
        ],
    },
    Sample {
        path: "catalog/imaging/resize.c",
        lang: "c",
        expected: &[
            "5: @component Catalog:Image resizer (#image_resizer) [type: process]",
            "6: @threat Memory corruption in image decoding (#memory_corruption) [stride: T,E; cwe: 787, 125; likelihood: possible; impact: severe; owner: team-catalog]",
            "7: @control Continuous fuzzing (#fuzzing): a libFuzzer harness runs in CI on every change",
            "8: @mitigates #image_resizer against #memory_corruption with #fuzzing",
            "14: @mitigates #image_resizer against #memory_corruption with #size_limits",
            "18: @control Image size limits (#size_limits): width and height are checked before any\n| allocation or copy",
        ],
    },
    Sample {
        path: "catalog/imaging/CMakeLists.txt",
        lang: "cmake",
        expected: &[
            "3: @control Hardened compiler flags (#hardened_build): stack protector, FORTIFY_SOURCE, full RELRO",
            "4: @mitigates #image_resizer against #memory_corruption with #hardened_build",
            "10: @review #image_resizer Compiler and linker hardening checked with checksec, 2025-03",
        ],
    },
    Sample {
        path: "recommender/src/engine.cpp",
        lang: "cpp",
        expected: &[
            "4: @component Recommendation engine (#recommender) [type: process; owner: team-data]",
            "5: @threat Recommendation poisoning (#recommendation_poisoning) [stride: T; likelihood: likely; impact: minor]:\n| fake accounts buy pairs of products to push one of them",
            "7: @accepts #recommendation_poisoning to #recommender with low impact; recommendations never change prices",
            "8: @connects #recommender to #catalog with nightly product feed",
        ],
    },
    Sample {
        path: "loyalty/LoyaltyLedger.cs",
        lang: "csharp",
        expected: &[
            "10: @component Loyalty service (#loyalty) [type: process; owner: team-growth]",
            "11: @threat Loyalty points fraud (#points_fraud) [stride: T,R; likelihood: possible; impact: minor]",
            "12: @control Signed ledger entries (#signed_ledger): an HMAC over the entry and the previous hash",
            "13: @mitigates #loyalty against #points_fraud with #signed_ledger",
            "14: @connects #orders to #loyalty with order-placed events",
            "30: @tests #signed_ledger for #loyalty",
        ],
    },
    Sample {
        path: "gateway/Dockerfile",
        lang: "dockerfile",
        expected: &[
            "4: @threat Container escape (#container_escape) [stride: E; likelihood: unlikely; impact: severe]",
            "5: @control Base images pinned by digest (#pinned_base_image)",
            "6: @control Non-root, read-only containers (#non_root)",
            "7: @mitigates #gateway against #supply_chain with #pinned_base_image",
            "17: @mitigates #gateway against #container_escape with #non_root",
        ],
    },
    Sample {
        path: "gateway/.env.example",
        lang: "dotenv",
        expected: &[
            "3: @threat Secret leakage (#secret_leak) [stride: I; cwe: 798; likelihood: possible; impact: severe; owner: platform-team]: credentials end up in images, logs\n| or the git history",
            "5: @exposes #gateway to #secret_leak with DATABASE_URL read from the environment",
        ],
    },
    Sample {
        path: "gateway/main.go",
        lang: "go",
        expected: &[
            "4: @component Gateway (#gateway) [type: process; owner: team-edge]: the only service reachable\n| from the internet",
            "6: @threat Cross-site request forgery (#csrf) [stride: T; cwe: 352; likelihood: possible; impact: moderate]",
            "7: @control Double-submit CSRF tokens (#csrf_tokens)",
            "8: @connects #gateway to #catalog with HTTP/JSON",
            "9: @review #gateway Threat model walk-through with the edge team, 2025-03",
            "24: @mitigates #gateway against #csrf with #csrf_tokens",
        ],
    },
    Sample {
        path: "gateway/schema.graphql",
        lang: "graphql",
        expected: &[
            "3: @threat Query complexity DoS (#query_dos) [stride: D; likelihood: likely; impact: moderate]: deeply\n| nested or aliased queries exhaust the catalog service",
            "5: @control Query depth and cost limits (#query_limits): depth 8 and cost 1000 per request",
            "6: @mitigates #gateway against #query_dos with #query_limits",
        ],
    },
    Sample {
        path: "mobile/Jenkinsfile",
        lang: "groovy",
        expected: &[
            "3: @component Mobile release pipeline (#mobile_pipeline) in #ci [type: process; owner: team-mobile]",
            "4: @component App stores (#app_stores) in #internet [type: external]",
            "5: @threat Signing key theft (#signing_key_theft) [stride: S,T; likelihood: rare; impact: severe]",
            "6: @control HSM-backed release signing (#hsm_signing): signing keys never leave the HSM",
            "7: @mitigates #mobile_pipeline against #signing_key_theft with #hsm_signing",
            "8: @connects #mobile_pipeline to #app_stores with signed release bundles",
            "20: @tests #hsm_signing for #mobile_pipeline",
        ],
    },
    Sample {
        path: "infra/main.tf",
        lang: "hcl",
        expected: &[
            "3: @boundary Public internet (#internet): everything we do not operate",
            "4: @boundary Shop VPC (#vpc): the AWS VPC that hosts the shop",
            "5: @boundary Data tier (#data_tier) in #vpc: private subnets without a route to the internet",
            "6: @boundary Analytics zone (#analytics_zone) in #vpc",
            "7: @boundary Ops bastion (#bastion) in #vpc: hosts for scheduled maintenance jobs",
            "19: @component Orders database (#orders_db) in #data_tier [type: store; owner: team-orders]: PostgreSQL 16 on RDS",
            "27: @mitigates #orders_db against #secret_leak with #secrets_manager",
            "33: @component Image bucket (#image_bucket) in #data_tier [type: store]",
            "34: @threat Public bucket exposure (#public_bucket) [stride: I; cwe: 200; likelihood: unlikely; impact: major; owner: platform-team]",
            "35: @control S3 Block Public Access (#block_public_access): account-wide, enforced by an SCP",
            "36: @mitigates #image_bucket against #public_bucket with #block_public_access",
            "42: @control AWS Secrets Manager (#secrets_manager) [owner: platform-team]: every credential lives here\n| and is rotated every 30 days; pods read them through the CSI driver, never from images",
            "44: @mitigates #gateway against #secret_leak with #secrets_manager",
        ],
    },
    Sample {
        path: "web/storefront/public/index.html",
        lang: "html",
        expected: &[
            "5: @threat Clickjacking (#clickjacking) [stride: T; cwe: 1021; severity: low]",
            "6: @control Content Security Policy (#csp): script-src 'self' and frame-ancestors 'none'",
            "7: @mitigates #storefront against #xss with #csp",
            "12: @mitigates #storefront against #clickjacking with #csp",
        ],
    },
    Sample {
        path: "db/pgbouncer.ini",
        lang: "ini",
        expected: &[
            "3: @component Connection pooler (#pgbouncer) in #data_tier [type: process]",
            "4: @threat Database connection exhaustion (#connection_exhaustion) [stride: D; likelihood: possible; impact: moderate]",
            "5: @control Connection pool limits (#pool_limits): per-database and per-user caps",
            "6: @mitigates #orders_db against #connection_exhaustion with #pool_limits",
            "7: @connects #pgbouncer to #orders_db with PostgreSQL wire protocol over TLS",
            "16: @review #pgbouncer Pool sizes load-tested with the orders team, 2025-02",
        ],
    },
    Sample {
        path: "orders/src/main/java/shop/orders/OrderRepository.java",
        lang: "java",
        expected: &[
            "12: @component Orders service (#orders) [type: process; owner: team-orders]: Spring Boot service",
            "13: @threat SQL injection (#sqli) [stride: T,I; cwe: 89; likelihood: possible; impact: severe]",
            "14: @control Parameterized queries (#parameterized_queries): PreparedStatement everywhere, never\n| string concatenation",
            "16: @mitigates #orders against #sqli with #parameterized_queries",
            "17: @connects #orders to #pgbouncer with JDBC over TLS",
            "38: @threat Order repudiation (#order_repudiation) [stride: R; likelihood: possible; impact: minor]: a customer denies placing an order",
            "39: @control Append-only audit log (#audit_log)",
            "40: @mitigates #orders against #order_repudiation with #audit_log",
        ],
    },
    Sample {
        path: "web/legacy/Banner.jsx",
        lang: "javascript",
        expected: &[
            "7: @review #checkout_widget Banner copy is static; no partner HTML reaches it",
        ],
    },
    Sample {
        path: "web/legacy/checkout.js",
        lang: "javascript",
        expected: &[
            "2: @component Storefront:Checkout widget (#checkout_widget) [type: process]: card form in a\n| hosted iframe, loaded into partner pages",
            "4: @exposes #checkout_widget to #xss with partner-supplied HTML templates",
            "11: @connects #checkout_widget to #card_processor with hosted card fields",
            "16: @mitigates #checkout_widget against #card_theft with #tokenization",
        ],
    },
    Sample {
        path: "mobile/android/app/src/main/kotlin/shop/TokenStore.kt",
        lang: "kotlin",
        expected: &[
            "9: @component Android app (#android_app) in #devices [type: process; owner: team-mobile]",
            "10: @threat Session token theft from the device (#token_theft) [stride: S,I; likelihood: unlikely; impact: major]",
            "11: @control Hardware-backed token storage (#secure_storage): Android Keystore and iOS Keychain, never plain preferences",
            "12: @mitigates #android_app against #token_theft with #secure_storage",
            "13: @accepts #token_theft to #android_app with rooted devices are out of scope [expires: 2026-06-30; ticket: MOB-142]",
            "16: @connects #android_app to #gateway with HTTPS and certificate pinning",
        ],
    },
    Sample {
        path: "gateway/nginx/rate_limit.lua",
        lang: "lua",
        expected: &[
            "4: @component Gateway:Edge rate limiter (#rate_limiter) [type: process]",
            "5: @actor Credential-stuffing bot operator (#bot_operator)",
            "6: @threat Credential stuffing (#credential_stuffing) [stride: S; actor: #bot_operator; capec: 600; likelihood: certain; impact: major]",
            "7: @control Login rate limiting (#rate_limiting): 5 attempts per minute per account and per address",
            "8: @mitigates #gateway against #credential_stuffing with #rate_limiting",
            "9: @connects #rate_limiter to #gateway with proxied requests",
            "18: @tests #rate_limiting for #rate_limiter",
        ],
    },
    Sample {
        path: "Makefile",
        lang: "makefile",
        expected: &[
            "13: @tests #parameterized_queries for #orders",
            "14: @tests #egress_allowlist for #catalog",
            "20: @tests #fuzzing for #image_resizer",
        ],
    },
    Sample {
        path: "ops/rotate_logs.pl",
        lang: "perl",
        expected: &[
            "4: @component Log rotation job (#log_rotation) in #bastion [type: process; owner: team-sre]",
            "5: @component Log archive (#log_archive) in #data_tier [type: store]",
            "19: @actor Malicious insider (#insider): an operator with a shell on the bastion",
            "20: @threat Log tampering (#log_tampering) [stride: T,R; actor: #insider; likelihood: rare; impact: moderate]",
            "21: @control Append-only log shipping (#append_only_shipping): logs leave the host within a minute",
            "22: @mitigates #log_rotation against #log_tampering with #append_only_shipping",
            "23: @connects #log_rotation to #log_archive with rsync over SSH",
        ],
    },
    Sample {
        path: "cms/public/upload.php",
        lang: "php",
        expected: &[
            "5: @component CMS (#cms) [type: process; owner: team-web]: legacy PHP content management",
            "6: @threat Remote code execution via plugin upload (#plugin_rce) [stride: E; cwe: 434; likelihood: likely; impact: severe]",
            "7: @exposes #cms to #plugin_rce with ZIP plugins that may contain PHP files",
            "13: @review #cms Plugin upload must be removed before the 2026 replatforming",
            "14: @connects #cms to #orders_db with read-only SQL for order pages",
        ],
    },
    Sample {
        path: "ops/Backup-Database.ps1",
        lang: "powershell",
        expected: &[
            "7: @component Backup job (#backup_job) in #bastion [type: process; owner: team-sre]",
            "8: @component Backup vault (#backup_vault) in #internet [type: store]: Azure Blob Storage with an immutability policy",
            "9: @threat Backup theft (#backup_theft) [stride: I; likelihood: unlikely; impact: severe]",
            "10: @control Encrypted backups (#backup_encryption): encrypted with age before upload; the key is offline",
            "11: @mitigates #backup_job against #backup_theft with #backup_encryption",
            "17: @connects #orders_db to #backup_job with nightly pg_dump",
            "18: @connects #backup_job to #backup_vault with encrypted upload over HTTPS",
        ],
    },
    Sample {
        path: "proto/shop/orders/v1/orders.proto",
        lang: "protobuf",
        expected: &[
            "3: @threat Message tampering in transit (#message_tampering) [stride: T,I; likelihood: rare; impact: major]",
            "4: @control Mutual TLS between services (#mtls): certificates from the mesh CA, rotated daily",
            "5: @mitigates #orders against #message_tampering with #mtls",
            "14: @connects #gateway to #orders with gRPC OrderService",
            "15: @connects #orders with #payments with gRPC PaymentService",
        ],
    },
    Sample {
        path: "catalog/catalog/service.py",
        lang: "python",
        expected: &[
            "4: @component Catalog (#catalog) [type: process; owner: team-catalog]: Python service behind the gateway",
            "5: @connects #catalog to #image_bucket with S3 API",
            "23: @threat Server-side request forgery (#ssrf) [stride: I,E; cwe: 918; likelihood: likely; impact: major]:\n| A partner URL points at the cloud metadata service or an internal host",
            "31: @control Egress allow-list (#egress_allowlist): partner image hosts only, never private ranges",
            "32: @mitigates #catalog against #ssrf with #egress_allowlist",
            "38: @connects #catalog to #image_resizer with raw image bytes",
        ],
    },
    Sample {
        path: "analytics/churn.R",
        lang: "r",
        expected: &[
            "3: @component Churn model (#churn_model) in #analytics_zone [type: process; owner: team-data]",
            "4: @connects #analytics to #churn_model with pseudonymized feature tables",
            "5: @accepts #pii_leak to #churn_model with aggregated features only [ticket: PRIV-88; expires: 2026-12-31]",
        ],
    },
    Sample {
        path: "notifier/app/mailers/receipt_mailer.rb",
        lang: "ruby",
        expected: &[
            "5: @component Notification worker (#notifier) [type: process; owner: team-growth]",
            "6: @component Email provider (#email_provider) in #internet [type: external]",
            "7: @connects #notifier to #email_provider with SMTP over TLS",
            "15: @threat Email spoofing (#email_spoofing):\n| Phishers send fake receipts that look like ours",
            "20: @transfers #email_spoofing from #notifier to #email_provider with SPF, DKIM and DMARC enforced by the provider",
        ],
    },
    Sample {
        path: "payments/src/lib.rs",
        lang: "rust",
        expected: &[
            "3: @component Payments (#payments) [type: process; owner: team-payments]: Rust service in PCI DSS scope",
            "4: @component Card processor (#card_processor) in #internet [type: external]: the payment service provider",
            "5: @actor Card fraudster (#fraudster): tests stolen cards and looks for card data to steal",
            "6: @threat Card data theft (#card_theft) [stride: I; actor: #fraudster; likelihood: possible; impact: severe]",
            "7: @connects #payments to #card_processor with HTTPS charge API",
            "13: @control Card tokenization (#tokenization): card numbers stay in the processor's iframe",
            "14: @mitigates #payments against #card_theft with #tokenization",
            "15: @transfers #card_theft from #payments to #card_processor with storage of card numbers",
            "27: @review #payments PCI DSS SAQ A-EP review, 2025-01",
            "33: @threat Payment replay (#payment_replay) [stride: T,R; likelihood: likely; impact: moderate]: a retried request charges twice",
            "37: @mitigates #payments against #payment_replay with #idempotency_keys",
        ],
    },
    Sample {
        path: "analytics/src/main/scala/shop/analytics/Pseudonymize.scala",
        lang: "scala",
        expected: &[
            "7: @component Analytics pipeline (#analytics) in #analytics_zone [type: process; owner: team-data]: Spark on EMR",
            "8: @threat PII leakage in analytics (#pii_leak) [stride: I; cwe: 359; likelihood: possible; impact: major]",
            "9: @control Pseudonymization (#pseudonymization): customer ids become keyed hashes and emails are dropped",
            "10: @mitigates #analytics against #pii_leak with #pseudonymization",
            "11: @connects #orders_db to #analytics with nightly CDC export",
        ],
    },
    Sample {
        path: "db/migrations/001_orders.sql",
        lang: "sql",
        expected: &[
            "3: @control Row-level security (#row_level_security): each service role sees only its own rows",
            "4: @mitigates #orders_db against #sqli with #row_level_security",
            "15: @mitigates #orders_db against #order_repudiation with #audit_log",
        ],
    },
    Sample {
        path: "mobile/ios/Shop/TokenStore.swift",
        lang: "swift",
        expected: &[
            "6: @component iOS app (#ios_app) in #devices [type: process; owner: team-mobile]",
            "7: @mitigates #ios_app against #token_theft with #secure_storage",
            "8: @connects #ios_app to #gateway with HTTPS and certificate pinning",
            "16: @tests #secure_storage for #ios_app",
        ],
    },
    Sample {
        path: "payments/config/payments.toml",
        lang: "toml",
        expected: &[
            "3: @control Idempotency keys (#idempotency_keys): the request id is kept for 24 hours and a retry\n| returns the first result instead of charging again",
            "8: @review #payments Timeouts match the processor's SLA, 2025-02",
        ],
    },
    Sample {
        path: "web/storefront/src/ProductPage.tsx",
        lang: "tsx",
        expected: &[
            "4: @boundary User devices (#devices) in #internet: browsers and phones of shoppers and staff",
            "5: @component Storefront (#storefront) in #devices [type: process; owner: team-web]: React SPA",
            "6: @threat Cross-site scripting (#xss) [stride: T,I; cwe: 79; likelihood: possible; impact: major]",
            "7: @control React output encoding (#output_encoding): JSX escapes every interpolated value",
            "8: @mitigates #storefront against #xss with #output_encoding",
            "9: @connects #storefront to #gateway with HTTPS/JSON",
            "26: @review #storefront Price rendering checked for injection, 2025-02",
        ],
    },
    Sample {
        path: "admin/src/auth.ts",
        lang: "typescript",
        expected: &[
            "4: @component Admin console (#admin_console) in #devices [type: process; owner: team-backoffice]",
            "5: @threat Admin account takeover (#admin_takeover) [stride: S,E; likelihood: unlikely; impact: severe]",
            "6: @control Phishing-resistant MFA (#webauthn): WebAuthn with platform or roaming authenticators",
            "7: @mitigates #admin_console against #admin_takeover with #webauthn",
            "10: @connects #admin_console to #gateway with HTTPS admin API",
        ],
    },
    Sample {
        path: ".github/workflows/ci.yml",
        lang: "yaml",
        expected: &[
            "1: @boundary CI/CD (#ci): GitHub-hosted runners and the release credentials they hold",
            "2: @component CI pipeline (#ci_pipeline) in #ci [type: process; owner: platform-team]",
            "3: @actor Supply-chain attacker (#supply_chain_attacker): compromises a dependency or a build tool",
            "4: @threat Build supply-chain compromise (#supply_chain) [stride: T,E; actor: #supply_chain_attacker; capec: 437; likelihood: unlikely; impact: severe; owner: platform-team]",
            "5: @control Actions pinned by commit SHA (#pinned_actions)",
            "6: @control Least-privilege workflow token (#least_privilege_token): `permissions: {}` by default",
            "7: @mitigates #ci_pipeline against #supply_chain with #pinned_actions",
            "8: @mitigates #ci_pipeline against #supply_chain with #least_privilege_token",
            "32: @connects #ci_pipeline to #gateway with signed image rollout",
        ],
    },
    Sample {
        path: "deploy/k8s/gateway.yaml",
        lang: "yaml",
        expected: &[
            "3: @boundary Kubernetes cluster (#cluster) in #vpc [owner: platform-team]: EKS, one namespace per service",
            "4: @boundary #cluster contains #gateway, #catalog, #orders, #payments, #recommender, #loyalty, #notifier, #cms",
            "5: @threat Lateral movement (#lateral_movement) [stride: E; actor: #insider; likelihood: unlikely; impact: major; owner: platform-team]: a compromised pod reaches\n| services it never talks to",
            "7: @control Default-deny network policies (#network_policy): only declared flows are allowed",
            "26: @mitigates #gateway against #container_escape with #non_root",
            "41: @mitigates #gateway against #lateral_movement with #network_policy",
            "42: @mitigates #orders against #lateral_movement with #network_policy",
        ],
    },
];

fn read_sample(path: &str) -> String {
    let full = Path::new(FIXTURE).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// What extraction found in one file.
struct Found {
    method: Option<Method>,
    annotations: Vec<Annotation>,
    diagnostics: Vec<Diagnostic>,
}

fn extract(lang: &Language, path: &str, text: &str) -> Found {
    let index = LineIndex::new(text);
    let loc = Locator::new(path, text, &index);
    let extracted = comments::extract(lang, &loc, &Options::default());
    let mut annotations = Vec::new();
    let mut diagnostics = extracted.diagnostics;
    for comment in &extracted.comments {
        annotation::parse_comment(comment, &loc, &mut annotations, &mut diagnostics);
    }
    Found {
        method: extracted.method,
        annotations,
        diagnostics,
    }
}

/// The grammar loads into a parser and parses the sample without ERROR or MISSING nodes.
fn check_grammar(lang: &Language, sample: &Sample, text: &str, problems: &mut Vec<String>) {
    let path = sample.path;
    match lang.query() {
        Some(Ok(_)) => {}
        Some(Err(e)) => problems.push(format!("{}: query does not compile: {e}", lang.name)),
        None => problems.push(format!("{}: has a grammar but no query", lang.name)),
    }
    let Some(ts_language) = lang.ts_language() else {
        problems.push(format!(
            "{}: grammar has no tree-sitter language",
            lang.name
        ));
        return;
    };
    let mut parser = tree_sitter::Parser::new();
    if let Err(e) = parser.set_language(&ts_language) {
        problems.push(format!("{}: grammar does not load (ABI?): {e}", lang.name));
        return;
    }
    let Some(tree) = parser.parse(text, None) else {
        problems.push(format!("{path}: tree-sitter returned no tree"));
        return;
    };
    let root = tree.root_node();
    if root.has_error() {
        let mut cursor = root.walk();
        let mut first = None;
        // Depth-first search for the first ERROR or MISSING node, to say where.
        'walk: loop {
            let node = cursor.node();
            if node.is_error() || node.is_missing() {
                first = Some(node);
                break;
            }
            if node.has_error() && cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        let at = first.map_or_else(String::new, |n| {
            let p = n.start_position();
            format!(" at {}:{} ({})", p.row + 1, p.column + 1, n.kind())
        });
        problems.push(format!("{path}: the sample does not parse cleanly{at}"));
    }
}

/// Comment markers must not leak into annotation text: no line starts with a comment token and
/// no block-comment closer or docstring quote survives.
fn check_markers(lang: &Language, sample: &Sample, found: &Found, problems: &mut Vec<String>) {
    let mut openers: Vec<&str> = lang.line_comments.to_vec();
    openers.extend(lang.block_comments.iter().map(|(open, _)| *open));
    let mut closers: Vec<&str> = lang
        .block_comments
        .iter()
        .map(|(_, close)| *close)
        .collect();
    closers.extend(["*/", "\"\"\"", "'''", "-->"]);
    for a in &found.annotations {
        let texts = [a.source.annotation.as_str(), a.description.as_str()];
        for line in texts.iter().flat_map(|t| t.lines()) {
            let line = line.trim();
            let leaked = openers
                .iter()
                .find(|o| line.starts_with(**o))
                .or_else(|| closers.iter().find(|c| line.contains(**c)));
            if let Some(marker) = leaked {
                problems.push(format!(
                    "{}:{}: comment marker `{marker}` left in `{line}`",
                    sample.path, a.source.line
                ));
            }
        }
    }
}

/// `line: annotation text`, then `| line` for each description line that is not on the tag's
/// own line (continued descriptions and YAML bodies), so grouping and stripping are checked too.
fn summary(a: &Annotation) -> String {
    let mut out = format!("{}: {}", a.source.line, a.source.annotation);
    let mut lines = a.description.lines().peekable();
    if lines
        .peek()
        .is_some_and(|first| a.source.annotation.ends_with(first))
    {
        lines.next();
    }
    for line in lines {
        out.push_str("\n| ");
        out.push_str(line);
    }
    out
}

fn check_sample(lang: &Language, sample: &Sample, problems: &mut Vec<String>) {
    let text = read_sample(sample.path);
    let file_name = sample.path.rsplit('/').next().unwrap_or(sample.path);
    let detected = lang::detect(file_name, text.as_bytes(), |_| None).map(|l| l.name);
    if detected != Some(lang.name) {
        problems.push(format!(
            "{}: detected as {detected:?}, expected {}",
            sample.path, lang.name
        ));
    }
    let expected_method = if lang.grammar.is_some() {
        check_grammar(lang, sample, &text, problems);
        Method::TreeSitter
    } else {
        if lang::lexical::scan(lang, &text).is_empty() {
            problems.push(format!(
                "{}: the lexical scanner found no comment",
                sample.path
            ));
        }
        Method::Lexical
    };
    let found = extract(lang, sample.path, &text);
    // The exact lexer stands in for tree-sitter where it provably agrees (tests/exact_lexer.rs).
    let exact_for_tree_sitter =
        expected_method == Method::TreeSitter && found.method == Some(Method::Exact);
    if found.method != Some(expected_method) && !exact_for_tree_sitter {
        problems.push(format!(
            "{}: comments found by {:?}, expected {expected_method:?}",
            sample.path, found.method
        ));
    }
    for d in &found.diagnostics {
        problems.push(format!("{}: unexpected diagnostic: {d:?}", sample.path));
    }
    let got: Vec<String> = found.annotations.iter().map(summary).collect();
    if got != sample.expected {
        problems.push(format!(
            "{}: annotations differ\n  expected: {:#?}\n  got: {got:#?}",
            sample.path, sample.expected
        ));
    }
    if let Some(fake) = got.iter().find(|a| a.contains("NotReal")) {
        problems.push(format!(
            "{}: a fake annotation in a string was extracted: {fake}",
            sample.path
        ));
    }
    check_markers(lang, sample, &found, problems);
}

#[test]
fn every_language_extracts_its_sample() {
    let mut problems = Vec::new();
    for lang in LANGUAGES {
        let samples: Vec<&Sample> = SAMPLES.iter().filter(|s| s.lang == lang.name).collect();
        if samples.is_empty() {
            problems.push(format!(
                "{}: no sample file in tests/fixtures/polyglot",
                lang.name
            ));
        }
        for sample in samples {
            check_sample(lang, sample, &mut problems);
        }
    }
    for sample in SAMPLES {
        if lang::by_name(sample.lang).is_none() {
            problems.push(format!("{}: unknown language {}", sample.path, sample.lang));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_file_is_a_sample() {
    let mut files = Vec::new();
    files_under(Path::new(FIXTURE), &mut files);
    let listed: BTreeSet<&str> = SAMPLES.iter().map(|s| s.path).collect();
    let on_disk: BTreeSet<String> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(FIXTURE).expect("under the fixture");
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let unlisted: Vec<&String> = on_disk
        .iter()
        .filter(|p| !listed.contains(p.as_str()))
        .collect();
    let missing: Vec<&&str> = listed.iter().filter(|p| !on_disk.contains(**p)).collect();
    assert!(
        unlisted.is_empty(),
        "fixture files with no SAMPLES entry: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "SAMPLES entries with no file: {missing:?}"
    );
}

#[test]
fn queries_use_only_contract_captures() {
    for lang in LANGUAGES {
        let Some(grammar) = lang.grammar else {
            continue;
        };
        let ts_language = tree_sitter::Language::new(grammar.language);
        let query = tree_sitter::Query::new(&ts_language, grammar.query)
            .unwrap_or_else(|e| panic!("grammars/{}.scm: {e}", lang.name));
        let names = query.capture_names();
        for name in names {
            assert!(
                CAPTURES.contains(name),
                "grammars/{}.scm uses `@{name}`, which is not in lang::CAPTURES {CAPTURES:?}",
                lang.name
            );
        }
        assert!(
            names.contains(&"comment"),
            "grammars/{}.scm captures no @comment",
            lang.name
        );
    }
}

#[test]
fn query_files_belong_to_table_rows() {
    let mut stems = BTreeSet::new();
    for entry in std::fs::read_dir(GRAMMARS).expect("grammars/") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|e| e != "scm") {
            continue;
        }
        let stem = path
            .file_stem()
            .expect("file stem")
            .to_string_lossy()
            .into_owned();
        let lang = lang::by_name(&stem)
            .unwrap_or_else(|| panic!("{}: no table row named `{stem}`", path.display()));
        // A grammar compiled out by a cargo feature has no query to compare.
        if let Some(grammar) = lang.grammar {
            let on_disk = std::fs::read_to_string(&path).expect("read .scm");
            assert_eq!(
                grammar.query,
                on_disk,
                "row `{stem}` does not include {}",
                path.display()
            );
        }
        stems.insert(stem);
    }
    for lang in LANGUAGES.iter().filter(|l| l.grammar.is_some()) {
        assert!(
            stems.contains(lang.name),
            "row `{}` has a grammar but no grammars/{}.scm",
            lang.name,
            lang.name
        );
    }
}

#[test]
fn grammar_readme_lists_every_grammar_and_capture() {
    let readme =
        std::fs::read_to_string(Path::new(GRAMMARS).join("README.md")).expect("grammars/README.md");
    for capture in CAPTURES {
        assert!(
            readme.contains(&format!("`@{capture}`")),
            "README lacks `@{capture}`"
        );
    }
    for lang in LANGUAGES.iter().filter(|l| l.grammar.is_some()) {
        assert!(
            readme.contains(&format!("| `{}` |", lang.name)),
            "grammars/README.md has no table row for `{}`",
            lang.name
        );
    }
}

#[test]
fn table_is_sorted_and_complete() {
    for pair in LANGUAGES.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "LANGUAGES is not sorted by name: `{}` before `{}`",
            pair[0].name,
            pair[1].name
        );
    }
    for lang in LANGUAGES {
        assert!(
            lang::by_name(lang.name).is_some_and(|l| std::ptr::eq(l, lang)),
            "by_name(`{}`) does not find its row",
            lang.name
        );
        assert!(!lang.title.is_empty(), "{}: no title", lang.name);
        assert!(
            !(lang.extensions.is_empty() && lang.filenames.is_empty()),
            "{}: nothing can detect it",
            lang.name
        );
        assert!(
            !(lang.line_comments.is_empty() && lang.block_comments.is_empty()),
            "{}: no comment tokens for stripping and the lexical fallback",
            lang.name
        );
        for ext in lang.extensions {
            assert_eq!(
                *ext,
                ext.to_ascii_lowercase(),
                "{}: extensions are lower case",
                lang.name
            );
        }
    }
}
