"""The gallery service: enrolment, identification, verification, consent, erasure and export.

It composes the face engine (:mod:`facegate.pipeline`), persistence (:mod:`facegate.store`)
and the privacy mechanisms (:mod:`facegate.privacy`: audit chain, purpose policies) and sits
above all three; ``store`` and ``privacy`` never import it. The entry point is
:class:`facegate.gallery.service.Gallery` (also ``facegate.Gallery``).
"""
