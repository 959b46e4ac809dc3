;; Comments in toml. See grammars/README.md for the capture contract.
(comment) @comment
