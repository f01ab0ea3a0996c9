"""Temporary media uploads (reference §1.6): ``GET /api/v1/uploads?action=getPolicy`` hands out an OSS-style POST
policy whose ``upload_host`` is this server (``/_oss/dashscope-file-mgr``); the form POST stores the file under
the data dir; generation calls name it ``oss://<key>`` and resolve it with ``X-DashScope-OssResourceResolve``.

Deviations: the policy's signature is an HMAC-SHA1 of the policy with a random secret kept in the data dir
(`oss-policy.key`, 0600; checked before the file's first byte is written, so only a policy
this server issued can upload); objects live 48 h of emulated time and cannot be listed or downloaded, as in the
real service.
"""
