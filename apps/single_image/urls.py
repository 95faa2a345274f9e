from django.urls import path

from . import apis

urlpatterns = [
    path("biap/face/bio-detection", apis.BioDetectionApi.as_view(), name="bio-detection"),
    path("api/face_liveness/v1", apis.FaceLivenessApi.as_view(), name="face-liveness"),
    path("api/image_liveness", apis.ImageLivenessApi.as_view(), name="image-liveness"),
]
