;; Comments in bash. See grammars/README.md for the capture contract.
(comment) @comment
