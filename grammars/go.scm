;; Comments in go. See grammars/README.md for the capture contract.
(comment) @comment
