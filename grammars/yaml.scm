;; Comments in yaml. See grammars/README.md for the capture contract.
(comment) @comment
