;; Comments in cpp. See grammars/README.md for the capture contract.
(comment) @comment
