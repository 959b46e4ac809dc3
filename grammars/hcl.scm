;; Comments in hcl. See grammars/README.md for the capture contract.
(comment) @comment
