;; Comments in c. See grammars/README.md for the capture contract.
(comment) @comment
