"""Shared route dependencies."""

from typing import Annotated

from fastapi import Depends, Request

from app.services.lipsync import LipSyncService


def get_service(request: Request) -> LipSyncService:
    return request.app.state.service


ServiceDep = Annotated[LipSyncService, Depends(get_service)]
