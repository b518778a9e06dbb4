"""What a kube-apiserver does with a custom object and its CRD's structural schema, by concept.

The public entry points are in ``kvsriov.sandbox.apiserver.validation`` (the contract); the modules
here hold one step each:

* ``paths``: field.Path rendering, schema/value walking, old-value correlation, JSON equality;
* ``field_errors``: field.Error constructors rendered as Status causes, with Go value printing;
* ``prune``: structural pruning, strict ObjectMeta, silent drop of non-nullable nulls;
* ``defaults``: structural defaulting;
* ``value_checks``: the kube-openapi value validators and their messages, with ratcheting;
* ``formats``: the string formats the real server checks;
* ``list_types``: x-kubernetes-list-type set/map duplicate checks;
* ``rules``: x-kubernetes-validations (CEL rules, via ``cel.py``) and the value CEL sees.
"""
