"""How faithful the reproduction is: the registry of published numbers and claims (registry),
the expressions that read a result (expr), verdicts from printed precision and noise bands
(judge), upstream's model fingerprints per platform (upstream), and `repro verify` (verify)."""
