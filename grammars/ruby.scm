;; Comments in ruby. See grammars/README.md for the capture contract.
(comment) @comment
