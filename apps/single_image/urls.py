from django.urls import path

from . import apis

urlpatterns = [
    path("biap/face/bio-detection", apis.BioDetectionApi.as_view(), name="bio-detection"),
    path("api/face_liveness/v1", apis.FaceLivenessApi.as_view(), name="face-liveness"),
    path("api/image_liveness", apis.ImageLivenessApi.as_view(), name="image-liveness"),
]

# Where each contract answers the web stack's own errors (apps/single_image/errors.py); any
# other /api/ path is on no contract we know, and gets the generic JSON body.
CONTRACT_PREFIXES = {
    "/biap/": apis.BioDetectionApi.contract,
    "/api/face_liveness": apis.FaceLivenessApi.contract,
    "/api/image_liveness": apis.ImageLivenessApi.contract,
}
